package libcache

// PartFrames is partFrames, for the tests outside the package.
const PartFrames = partFrames

// Magic is magic, for the tests outside the package.
const Magic = magic
