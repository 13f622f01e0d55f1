#!/bin/sh
# Reads a program's stderr on stdin and prints one line, "KIND CLASS":
#   KIND  AddressSanitizer's bug type, or "none" when there is no ASan report
#   CLASS the stackscope class that KIND maps to:
#         stack-buffer-overflow, stack-buffer-underflow,
#         dynamic-stack-buffer-overflow      -> stack-buffer-overrun
#         stack-overflow                     -> stack-overflow
#         any other report                   -> other
#         no report                          -> none
# The comparison scripts (juliet-cwe121.sh, cwe121-compare.sh) share it, so
# that both count the same reports; scripts/asankind_test.go checks it on
# reports of real ASan builds.
#
# The kind comes from the first "SUMMARY: AddressSanitizer: KIND" line: ASan
# prints the bug type there for every report. The "ERROR: AddressSanitizer:"
# line is the fallback (a report cut short before its summary), but its first
# word is not always the type ("attempting double-free", "requested
# allocation size ..."). Kinds are matched with upper case, digits and '_'
# too: a caught signal is "SEGV", "BUS", "FPE" or "ILL", and some types are
# "bad-malloc_usable_size" or "bad-__sanitizer_annotate_contiguous_container".
# A lower-case-only pattern reads "SEGV" as no report at all.
set -eu
kind=$(awk '
	summary == "" && match($0, /SUMMARY: AddressSanitizer: [A-Za-z0-9_-]+/) {
		summary = substr($0, RSTART + 27, RLENGTH - 27)
	}
	error == "" && match($0, /ERROR: AddressSanitizer: [A-Za-z0-9_-]+/) {
		error = substr($0, RSTART + 25, RLENGTH - 25)
	}
	END {
		if (summary != "") print summary
		else if (error != "") print error
		else print "none"
	}')
case "$kind" in
	stack-buffer-overflow|stack-buffer-underflow|dynamic-stack-buffer-overflow) class=stack-buffer-overrun ;;
	stack-overflow) class=stack-overflow ;;
	none) class=none ;;
	*) class=other ;;
esac
echo "$kind $class"
