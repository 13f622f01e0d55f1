"use strict";
// Sizes in the one style of stackscope's text output (internal/size):
// bytes with thousands separators below 10 KiB ("3,040 B"), else KiB, MiB,
// ... with one decimal, always written ("77.4 KiB"). A need (a frame, a
// depth, a bound) rounds up, so that it is never printed below the real
// one (formatSize, size.Format); a capacity (a stack's size, the room
// left) rounds down, so that it never looks larger (formatCapacity,
// size.FormatCapacity). BigInt keeps it exact past 2^53, as Go's is.
function formatSize(n) { return formatSizeRounded(n, true); }
function formatCapacity(n) { return formatSizeRounded(n, false); }
function formatSizeRounded(n, up) {
  const v = BigInt(n);
  if (v < 0n) return "-" + formatSizeRounded(-v, up);
  if (v < 10240n) return groupDigits(v) + " B";
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  for (let i = 0; i < units.length; i++) {
    const den = 1n << BigInt(10 * (i + 1));
    let tenths = v * 10n / den;
    if (up && (v * 10n) % den !== 0n) tenths += 1n;
    // Rounded up to 1024 of a unit, it is written in the next one.
    if (tenths < 10240n || i === units.length - 1) return groupDigits(tenths / 10n) + "." + (tenths % 10n) + " " + units[i];
  }
}
// groupDigits writes a whole number with thousands separators, whatever
// the reader's locale (as the text output does).
function groupDigits(v) {
  return v.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
