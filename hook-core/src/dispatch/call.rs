//! Running an event with an object document, the two ways every document driver needs:
//! [`Hooks::run_document`] (the document's name is argv\[1\], its bytes are stdin) and
//! [`Hooks::run_filter`] (the same, then the scripts' output is checked as a replacement
//! document: well-formed, the same root, the same `<name>` and `<uuid>`). Driver crates call
//! these from their one-line call functions, so the logic exists once.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use crate::dispatch::hooks::{Failure, Hooks, Outcome};
use crate::driver::HookEvent;
use crate::error::{Args, HookError};
use crate::xml::{Document, Root};

/// The result of a filter event (migrate, restore) whose scripts all succeeded.
pub struct Filtered<R> {
    /// The scripts that ran. Its `output` has been moved into `replacement`; `output_from` still
    /// names the script that printed it.
    pub outcome: Outcome,
    /// The checked replacement document, or `None`: unchanged (no filter printed anything).
    pub replacement: Option<Document<R>>,
}

impl<R> Filtered<R> {
    /// No filter printed anything: keep the original document.
    pub fn is_unchanged(&self) -> bool {
        self.replacement.is_none()
    }

    /// The script whose output replaced the document.
    pub fn replaced_by(&self) -> Option<&Path> {
        self.replacement
            .as_ref()
            .and(self.outcome.output_from.as_deref())
    }

    /// The document to go on with: the replacement, or else `original`.
    pub fn into_document(self, original: Document<R>) -> Document<R> {
        self.replacement.unwrap_or(original)
    }
}

impl<R> fmt::Debug for Filtered<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filtered")
            .field("outcome", &self.outcome)
            .field("replacement", &self.replacement)
            .finish()
    }
}

impl Hooks {
    /// Runs `event`'s scripts for the object `doc` describes: argv\[1\] is its name, stdin its
    /// bytes exactly as given. See [`Hooks::run`] for the result.
    #[inline]
    pub fn run_document<E: HookEvent + ?Sized, R>(
        &self,
        event: &E,
        doc: &Document<R>,
    ) -> Result<Outcome, Box<Failure>> {
        self.run(event, doc.name(), || Some(Cow::Borrowed(doc.bytes())))
    }

    /// Runs a filter event (one whose spec says its output is used) for `doc`, and checks what
    /// the filters printed: a replacement must be a well-formed document with the same root, the
    /// same `<name>` and, if `doc` has one, the same `<uuid>` (a hook may edit an object, not
    /// swap it for another). An unusable replacement is a [`Failure`] whose headline is
    /// [`HookError::BadOutput`] naming the script that printed it.
    pub fn run_filter<E: HookEvent + ?Sized, R: Root>(
        &self,
        event: &E,
        doc: &Document<R>,
    ) -> Result<Filtered<R>, Box<Failure>> {
        let mut outcome = self.run_document(event, doc)?;
        let Some(output) = outcome.output.take() else {
            return Ok(Filtered {
                outcome,
                replacement: None,
            });
        };
        match check_replacement(doc, &output) {
            Ok(replacement) => Ok(Filtered {
                outcome,
                replacement: Some(replacement),
            }),
            Err(reason) => Err(Box::new(refuse(event, doc.name(), outcome, output, reason))),
        }
    }
}

/// Checks a filter's output against the document it was given.
fn check_replacement<R: Root>(
    original: &Document<R>,
    output: &[u8],
) -> Result<Document<R>, String> {
    let replacement = Document::<R>::parse(output).map_err(|e| e.to_string())?;
    if replacement.name() != original.name() {
        return Err(format!(
            "its <name> is {:?} but the input's is {:?}: a filter may not rename the object",
            replacement.name(),
            original.name()
        ));
    }
    if let Some(uuid) = original.uuid()
        && replacement.uuid() != Some(uuid)
    {
        return Err(format!(
            "its <uuid> is {:?} but the input's is {uuid:?}: a filter may not change the object's identity",
            replacement.uuid().unwrap_or("(none)")
        ));
    }
    Ok(replacement)
}

/// Turns a successful run whose output is unusable into a failure of the script that printed it.
fn refuse<E: HookEvent + ?Sized>(
    event: &E,
    object: &str,
    mut outcome: Outcome,
    output: Vec<u8>,
    reason: String,
) -> Failure {
    let spec = event.spec();
    let from = outcome.output_from.take();
    let run = from
        .as_deref()
        .and_then(|from| outcome.runs.iter_mut().rev().find(|r| r.script == from));
    let error = |script: &Path, args: Args| HookError::BadOutput {
        script: script.to_owned(),
        args,
        reason: reason.clone(),
    };
    let fallback_args = || Args::new(&spec.args(object));
    let mut dir_error = None;
    match run {
        Some(run) => {
            let args = run
                .report
                .as_ref()
                .map_or_else(fallback_args, |r| r.args.clone());
            run.error = Some(error(&run.script, args));
        }
        // Cannot happen (the output always comes from a run), but never lose the error.
        None => dir_error = Some(error(Path::new("?"), fallback_args())),
    }
    Failure {
        driver: event.driver().to_owned(),
        op: spec.op.to_owned(),
        object: object.to_owned(),
        on_failure: spec.on_failure,
        runs: outcome.runs,
        dir_error,
        output: Some(output),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    enum Dom {}
    impl Root for Dom {
        const ELEMENT: &'static str = "domain";
    }

    fn dom(xml: &str) -> Document<Dom> {
        Document::parse(xml).unwrap()
    }

    #[test]
    fn a_replacement_keeps_name_and_uuid() {
        let original = dom("<domain><name>a</name><uuid>1</uuid><memory>1</memory></domain>");
        let edited = b"<domain><name>a</name><uuid>1</uuid><memory>2</memory></domain>\n";
        let got = check_replacement(&original, edited).unwrap();
        assert_eq!(got.bytes(), edited);

        let renamed =
            check_replacement(&original, b"<domain><name>b</name><uuid>1</uuid></domain>");
        assert!(renamed.unwrap_err().contains("may not rename"));
        let reuuid = check_replacement(&original, b"<domain><name>a</name><uuid>2</uuid></domain>");
        assert!(reuuid.unwrap_err().contains("identity"));
        let dropped = check_replacement(&original, b"<domain><name>a</name></domain>");
        assert!(dropped.unwrap_err().contains("(none)"));
        let junk = check_replacement(&original, b"hello\n");
        assert!(junk.unwrap_err().contains("outside the root element"));
        let root = check_replacement(&original, b"<network><name>a</name></network>");
        assert!(root.unwrap_err().contains("expected <domain>"));
    }

    #[test]
    fn without_an_input_uuid_any_uuid_is_accepted() {
        let original = dom("<domain><name>a</name></domain>");
        assert!(
            check_replacement(&original, b"<domain><name>a</name><uuid>9</uuid></domain>").is_ok()
        );
    }
}
