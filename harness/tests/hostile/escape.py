"""A target that writes terminal escape sequences to stderr, then exits before it is ready."""
import sys

sys.stderr.write("\x1b]0;PWNED\x07\x1b[2Jcleared \x9b31m csi\n")
sys.stderr.flush()
sys.exit(4)
