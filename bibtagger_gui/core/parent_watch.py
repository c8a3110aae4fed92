"""A child program that ends when this process dies, even by SIGKILL: exiftool's ``-stay_open`` process.

``exiftool -stay_open True -@ -`` does not end at the end of its input: at EOF it sleeps 10 ms and reads again, for
ever (``ReadStayOpen`` in the exiftool script, as documented: "keep reading from the -@ ARGFILE even after reaching
the end of file"). Its stdin is the only descriptor it holds of ours, and a killed parent closes it, but exiftool
sees EOF and polls on (~3 % of a core), reparented to init. Only ``-stay_open False`` on its input or a signal ends
it, and a SIGKILL leaves no one to send either.

So on POSIX it is started through a few lines of Perl (the interpreter exiftool itself needs there) with the read end
of a *lifeline*, a pipe whose write end only this process holds (non-inheritable, so no other child keeps it open).
The Perl forks a watchdog and ``exec``s the program in its own place (the same pid, so ``Popen`` waits for, signals
and reads the program itself). The watchdog closes the program's stdin, stdout and stderr (its reader must still see
EOF when the program ends), blocks reading the lifeline, and when that reaches EOF (this process closed it or died,
by any signal) sends SIGINT to the program if it is still the watchdog's parent (else the program has ended, and the
pid may be another's). SIGINT is exiftool's documented safe stop: it deletes its temp file and defers the signal until
an in-place copy-back is done, so no photo is left half written. No ``preexec_fn`` (not safe with threads: the app
writes keywords from a worker thread), no Linux-only ``PR_SET_PDEATHSIG`` (which also fires when the starting *thread*
ends). Where Perl is missing (Windows' exiftool.exe brings its own) the program is started directly
(docs/keywords.md#a-killed-run).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence

# argv: fd of the lifeline's read end, then the program and its arguments
WATCHDOG = r"""
use POSIX ();
my $fd = shift @ARGV;
open(my $life, '<&=', $fd) or die "bibtagger: lifeline $fd: $!\n";
my $program = $$;
my $watch = fork();
if (defined $watch && $watch == 0) {
    open(STDIN, '<', '/dev/null'); open(STDOUT, '>', '/dev/null'); open(STDERR, '>', '/dev/null');
    $0 = 'bibtagger lifeline watch';
    my $buf;
    1 while (sysread($life, $buf, 4096) // ($!{EINTR} ? 1 : 0));
    kill('INT', $program) if getppid() == $program;
    POSIX::_exit(0);
}
close($life);
exec { $ARGV[0] } @ARGV;
print STDERR "Error: cannot start $ARGV[0]: $!\n";
POSIX::_exit(127);
"""


class Lifeline:
    """The lifeline of one child: ``argv(command)`` to start it with, ``pass_fds`` for ``Popen``, ``started()`` once
    it runs (the read end is the child's alone), ``close()`` when done with it (after it ended, or to stop it)."""

    def __init__(self, perl: str):
        self.perl = perl
        self._read, self._write = os.pipe()  # both non-inheritable; pass_fds hands the read end to this child only

    @classmethod
    def for_child(cls, env: Mapping[str, str] | None = None) -> Lifeline | None:
        """A lifeline, or None where there is none to be had (Windows, no Perl on the child's PATH)."""
        if sys.platform == "win32":
            return None
        path = (env if env is not None else os.environ).get("PATH", os.defpath)
        perl = shutil.which("perl", path=path)
        return cls(perl) if perl else None

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return (self._read,) if self._read >= 0 else ()

    def argv(self, command: Sequence[str]) -> list[str]:
        return [self.perl, "-e", WATCHDOG, str(self._read), *command]

    def started(self) -> None:
        """The child has its copy of the read end: ours goes, so the child's watchdog alone reads it."""
        if self._read >= 0:
            os.close(self._read)
            self._read = -1

    def close(self) -> None:
        """Let go: the watchdog sees EOF (it stops the child if the child still runs) and ends."""
        self.started()
        if self._write >= 0:
            os.close(self._write)
            self._write = -1
