#!/usr/bin/python3
# Loads a seccomp allow-list (one syscall name a line; every other call fails with the given
# errno, as systemd's SystemCallFilter= with SystemCallErrorNumber= does) and execs the command.
# Used by test/helpers/shipped.ts to run the daemon as images/systemd/openstarryd.service does.
# Usage: seccomp-exec.py ALLOW_FILE ERRNO_NAME -- COMMAND [ARGS...]
import errno
import os
import sys

import seccomp

allow_file, errno_name, sep, *command = sys.argv[1:]
if sep != "--" or not command:
    sys.exit("usage: seccomp-exec.py ALLOW_FILE ERRNO_NAME -- COMMAND [ARGS...]")
f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(getattr(errno, errno_name)))
for name in open(allow_file).read().split():
    try:
        f.add_rule(seccomp.ALLOW, name)
    except (RuntimeError, ValueError, OSError):
        pass  # not a syscall of this architecture
f.load()
os.execv(command[0], command)
