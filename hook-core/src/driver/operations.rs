//! The [`operations!`](crate::operations) macro: declares a driver's operation enum from its
//! wire words, with `as_str`, [`Operation`](crate::Operation), `Display` and `FromStr` (an
//! unknown word is an error listing the valid ones). Every driver crate has such an enum; the
//! macro keeps the six of them from being six copies of the same code.

/// Declares a driver's operation enum (argv\[2\]): each variant with its wire word, in libvirt's
/// enum order.
///
/// ```
/// pub struct Demo;
/// impl hook_core::Driver for Demo {
///     const NAME: &'static str = "demo";
/// }
///
/// hook_core::operations! {
///     /// An operation of the demo driver.
///     pub enum Op for Demo {
///         /// `start`
///         Start => "start",
///         /// `port-created`
///         PortCreated => "port-created",
///     }
/// }
///
/// assert_eq!(Op::PortCreated.to_string(), "port-created");
/// assert_eq!("start".parse::<Op>(), Ok(Op::Start));
/// let err = "stop".parse::<Op>().unwrap_err().to_string();
/// assert_eq!(err, r#"unknown demo operation "stop"; valid: start, port-created"#);
/// ```
#[macro_export]
macro_rules! operations {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident for $driver:ty {
            $( $(#[$vmeta:meta])* $variant:ident => $word:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every operation, in libvirt's enum order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant ),+ ];

            /// The word on the command line (argv\[2\]).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $word ),+
                }
            }
        }

        impl $crate::Operation for $name {
            const DRIVER: &'static str = <$driver as $crate::Driver>::NAME;
            const ALL: &'static [$name] = $name::ALL;
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($name::as_str(*self))
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::UnknownWord;
            fn from_str(s: &str) -> ::std::result::Result<Self, $crate::UnknownWord> {
                $crate::driver::parse_operation(s)
            }
        }
    };
}
