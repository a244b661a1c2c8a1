# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_virt_hook_global_optspecs
    string join \n hooks-dir= user v/verbose h/help V/version
end

function __fish_virt_hook_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_virt_hook_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_virt_hook_using_subcommand
    set -l cmd (__fish_virt_hook_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c virt-hook -n "__fish_virt_hook_needs_command" -l hooks-dir -d 'The hooks directory [default: the system directory, e.g. /etc/libvirt/hooks]' -r -F
complete -c virt-hook -n "__fish_virt_hook_needs_command" -l user -d 'Use the per-user hooks directory ($XDG_CONFIG_HOME/libvirt/hooks)'
complete -c virt-hook -n "__fish_virt_hook_needs_command" -s v -l verbose -d 'Show what the hook library does on stderr (-v debug, -vv trace; RUST_LOG overrides)'
complete -c virt-hook -n "__fish_virt_hook_needs_command" -s h -l help -d 'Print help'
complete -c virt-hook -n "__fish_virt_hook_needs_command" -s V -l version -d 'Print version'
complete -c virt-hook -n "__fish_virt_hook_needs_command" -f -a "list" -d 'For each driver, the scripts that would run, in order, every file that is skipped and why, and permission warnings'
complete -c virt-hook -n "__fish_virt_hook_needs_command" -f -a "run" -d 'Fire a driver\'s hooks for one event exactly as the daemon would, and report each script'
complete -c virt-hook -n "__fish_virt_hook_needs_command" -f -a "lifecycle" -d 'Run the hooks a guest start and stop trigger: prepare, start, started, stopped, release'
complete -c virt-hook -n "__fish_virt_hook_needs_command" -f -a "check" -d 'Check the hooks directory for common mistakes; exit status 1 when an error is found'
complete -c virt-hook -n "__fish_virt_hook_needs_command" -f -a "install" -d 'Install virt-hook\'s dispatcher as libvirt\'s main hook for a driver'
complete -c virt-hook -n "__fish_virt_hook_needs_command" -f -a "uninstall" -d 'Remove virt-hook\'s dispatcher: restore the hook it replaced, or remove it'
complete -c virt-hook -n "__fish_virt_hook_needs_command" -f -a "status" -d 'Is the dispatcher working: what libvirt runs for each driver, and whether it can'
complete -c virt-hook -n "__fish_virt_hook_needs_command" -f -a "log" -d 'The dispatcher\'s records from the system log, newest last'
complete -c virt-hook -n "__fish_virt_hook_needs_command" -f -a "dispatch" -d 'Be libvirt\'s main hook script: run <driver>.d/OBJECT/OP/SUBOP/* for one event'
complete -c virt-hook -n "__fish_virt_hook_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand list" -l hooks-dir -d 'The hooks directory [default: the system directory, e.g. /etc/libvirt/hooks]' -r -F
complete -c virt-hook -n "__fish_virt_hook_using_subcommand list" -l json -d 'Print JSON instead of text'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand list" -l user -d 'Use the per-user hooks directory ($XDG_CONFIG_HOME/libvirt/hooks)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand list" -s v -l verbose -d 'Show what the hook library does on stderr (-v debug, -vv trace; RUST_LOG overrides)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand list" -s h -l help -d 'Print help'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand run" -l domain -d 'A domain XML file (or - for stdin), e.g. from `virsh dumpxml`' -r
complete -c virt-hook -n "__fish_virt_hook_using_subcommand run" -l network -d 'A network XML file (or - for stdin), e.g. from `virsh net-dumpxml`' -r
complete -c virt-hook -n "__fish_virt_hook_using_subcommand run" -l port -d 'A network port XML file, for port-created and port-deleted' -r
complete -c virt-hook -n "__fish_virt_hook_using_subcommand run" -l object -d 'The object name passed as the script\'s first argument [default: the XML\'s <name>]' -r -f -a '(__fish_virt_hook_dynamic)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand run" -l input -d 'Feed this file (or - for stdin) to the scripts as is, instead of a document built from --domain/--network' -r
complete -c virt-hook -n "__fish_virt_hook_using_subcommand run" -l extra -d 'The fifth argument (e.g. a release shutoff reason, or - as libvirt before 10.5 passes) [default: what the daemon passes]' -r
complete -c virt-hook -n "__fish_virt_hook_using_subcommand run" -l libvirt -d 'Call the hooks as this libvirt release does (e.g. 9.0: release passes - instead of the shutoff reason) [default: the newest known, 11.3]' -r
complete -c virt-hook -n "__fish_virt_hook_using_subcommand run" -l timeout -d 'Kill a script (and its process group) that runs longer than this: seconds (90) or a duration with a unit (500ms, 90s, 5m, 1h), from 1 ms to 24 hours [default: no timeout, as libvirt]' -r
complete -c virt-hook -n "__fish_virt_hook_using_subcommand run" -l hooks-dir -d 'The hooks directory [default: the system directory, e.g. /etc/libvirt/hooks]' -r -F
complete -c virt-hook -n "__fish_virt_hook_using_subcommand run" -l json -d 'Print JSON instead of text (the filtered XML is then a field of it)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand run" -l user -d 'Use the per-user hooks directory ($XDG_CONFIG_HOME/libvirt/hooks)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand run" -s v -l verbose -d 'Show what the hook library does on stderr (-v debug, -vv trace; RUST_LOG overrides)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand lifecycle" -l domain -d 'The domain XML file (or - for stdin), fed unchanged to every step' -r
complete -c virt-hook -n "__fish_virt_hook_using_subcommand lifecycle" -l end -d 'How the guest ends, the shutoff reason qemu\'s and lxc\'s release get (libxl and bhyve pass -): shutdown, destroyed, crashed, saved, migrated, failed, daemon, unknown, "from snapshot" [default: shutdown; failed when a start hook aborts the start]' -r
complete -c virt-hook -n "__fish_virt_hook_using_subcommand lifecycle" -l libvirt -d 'Call the hooks as this libvirt release does (e.g. 9.0: release passes - instead of the shutoff reason) [default: the newest known, 11.3]' -r
complete -c virt-hook -n "__fish_virt_hook_using_subcommand lifecycle" -l timeout -d 'Kill a script (and its process group) that runs longer than this: seconds (90) or a duration with a unit (500ms, 90s, 5m, 1h), from 1 ms to 24 hours [default: no timeout, as libvirt]' -r
complete -c virt-hook -n "__fish_virt_hook_using_subcommand lifecycle" -l hooks-dir -d 'The hooks directory [default: the system directory, e.g. /etc/libvirt/hooks]' -r -F
complete -c virt-hook -n "__fish_virt_hook_using_subcommand lifecycle" -l json -d 'Print JSON instead of text'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand lifecycle" -l user -d 'Use the per-user hooks directory ($XDG_CONFIG_HOME/libvirt/hooks)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand lifecycle" -s v -l verbose -d 'Show what the hook library does on stderr (-v debug, -vv trace; RUST_LOG overrides)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand lifecycle" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand check" -l hooks-dir -d 'The hooks directory [default: the system directory, e.g. /etc/libvirt/hooks]' -r -F
complete -c virt-hook -n "__fish_virt_hook_using_subcommand check" -l json -d 'Print JSON instead of text'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand check" -l user -d 'Use the per-user hooks directory ($XDG_CONFIG_HOME/libvirt/hooks)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand check" -s v -l verbose -d 'Show what the hook library does on stderr (-v debug, -vv trace; RUST_LOG overrides)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand install" -l hooks-dir -d 'The hooks directory [default: the system directory, e.g. /etc/libvirt/hooks]' -r -F
complete -c virt-hook -n "__fish_virt_hook_using_subcommand install" -l force -d 'Replace a hook virt-hook does not recognise (it is kept as a backup)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand install" -l refresh -d 'Make the installed dispatcher this binary (after an upgrade; the packages run it): the copy and every driver it serves. Nothing to do when none is installed'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand install" -l user -d 'Use the per-user hooks directory ($XDG_CONFIG_HOME/libvirt/hooks)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand install" -s v -l verbose -d 'Show what the hook library does on stderr (-v debug, -vv trace; RUST_LOG overrides)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand install" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand uninstall" -l hooks-dir -d 'The hooks directory [default: the system directory, e.g. /etc/libvirt/hooks]' -r -F
complete -c virt-hook -n "__fish_virt_hook_using_subcommand uninstall" -l all -d 'Every driver the dispatcher is installed for'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand uninstall" -l user -d 'Use the per-user hooks directory ($XDG_CONFIG_HOME/libvirt/hooks)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand uninstall" -s v -l verbose -d 'Show what the hook library does on stderr (-v debug, -vv trace; RUST_LOG overrides)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand uninstall" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand status" -l hooks-dir -d 'The hooks directory [default: the system directory, e.g. /etc/libvirt/hooks]' -r -F
complete -c virt-hook -n "__fish_virt_hook_using_subcommand status" -l json -d 'Print JSON instead of text'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand status" -l user -d 'Use the per-user hooks directory ($XDG_CONFIG_HOME/libvirt/hooks)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand status" -s v -l verbose -d 'Show what the hook library does on stderr (-v debug, -vv trace; RUST_LOG overrides)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand log" -l driver -d 'Only this driver' -r -f -a "daemon\t''
qemu\t''
lxc\t''
network\t''
libxl\t''
bhyve\t''"
complete -c virt-hook -n "__fish_virt_hook_using_subcommand log" -l event -d 'Only this operation (prepare, start, started, stopped, release, …)' -r -f -a '(__fish_virt_hook_dynamic)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand log" -l since -d 'Only records from then on. With the journal, anything journalctl --since takes; with syslog files "YYYY-MM-DD HH:MM", "YYYY-MM-DD", "today", "yesterday" or "-1h" (s, m, h, d), times in UTC' -r
complete -c virt-hook -n "__fish_virt_hook_using_subcommand log" -s n -l lines -d 'Only the last N records' -r
complete -c virt-hook -n "__fish_virt_hook_using_subcommand log" -l file -d 'Read these syslog files instead of the journal (e.g. a rotated /var/log/syslog.1); may be given more than once' -r -F
complete -c virt-hook -n "__fish_virt_hook_using_subcommand log" -l hooks-dir -d 'The hooks directory [default: the system directory, e.g. /etc/libvirt/hooks]' -r -F
complete -c virt-hook -n "__fish_virt_hook_using_subcommand log" -l failed -d 'Only failures (severity err): failed scripts and the dispatcher\'s own problems'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand log" -s f -l follow -d 'Keep reading: print new records as they come (every second), until interrupted'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand log" -l json -d 'Print JSON instead of text (with --follow, one JSON object per line)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand log" -l user -d 'Use the per-user hooks directory ($XDG_CONFIG_HOME/libvirt/hooks)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand log" -s v -l verbose -d 'Show what the hook library does on stderr (-v debug, -vv trace; RUST_LOG overrides)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand log" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand dispatch" -l hooks-dir -d 'The hooks directory [default: the system directory, e.g. /etc/libvirt/hooks]' -r -F
complete -c virt-hook -n "__fish_virt_hook_using_subcommand dispatch" -l user -d 'Use the per-user hooks directory ($XDG_CONFIG_HOME/libvirt/hooks)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand dispatch" -s v -l verbose -d 'Show what the hook library does on stderr (-v debug, -vv trace; RUST_LOG overrides)'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand dispatch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand help; and not __fish_seen_subcommand_from list run lifecycle check install uninstall status log dispatch help" -f -a "list" -d 'For each driver, the scripts that would run, in order, every file that is skipped and why, and permission warnings'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand help; and not __fish_seen_subcommand_from list run lifecycle check install uninstall status log dispatch help" -f -a "run" -d 'Fire a driver\'s hooks for one event exactly as the daemon would, and report each script'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand help; and not __fish_seen_subcommand_from list run lifecycle check install uninstall status log dispatch help" -f -a "lifecycle" -d 'Run the hooks a guest start and stop trigger: prepare, start, started, stopped, release'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand help; and not __fish_seen_subcommand_from list run lifecycle check install uninstall status log dispatch help" -f -a "check" -d 'Check the hooks directory for common mistakes; exit status 1 when an error is found'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand help; and not __fish_seen_subcommand_from list run lifecycle check install uninstall status log dispatch help" -f -a "install" -d 'Install virt-hook\'s dispatcher as libvirt\'s main hook for a driver'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand help; and not __fish_seen_subcommand_from list run lifecycle check install uninstall status log dispatch help" -f -a "uninstall" -d 'Remove virt-hook\'s dispatcher: restore the hook it replaced, or remove it'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand help; and not __fish_seen_subcommand_from list run lifecycle check install uninstall status log dispatch help" -f -a "status" -d 'Is the dispatcher working: what libvirt runs for each driver, and whether it can'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand help; and not __fish_seen_subcommand_from list run lifecycle check install uninstall status log dispatch help" -f -a "log" -d 'The dispatcher\'s records from the system log, newest last'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand help; and not __fish_seen_subcommand_from list run lifecycle check install uninstall status log dispatch help" -f -a "dispatch" -d 'Be libvirt\'s main hook script: run <driver>.d/OBJECT/OP/SUBOP/* for one event'
complete -c virt-hook -n "__fish_virt_hook_using_subcommand help; and not __fish_seen_subcommand_from list run lifecycle check install uninstall status log dispatch help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'

# Each driver's operations and sub-operations, and guest names, are asked of virt-hook itself
# (`virt-hook __complete -- WORDS...`; exit status 1: not such a word, the completion above
# answers).
function __fish_virt_hook_dynamic
    set -l current (commandline -ct)
    set -l words (commandline -opc) "$current"
    $words[1] __complete -- $words[2..-1] 2>/dev/null
end
complete -c virt-hook -f -n '__fish_virt_hook_dynamic >/dev/null' -a '(__fish_virt_hook_dynamic)'
