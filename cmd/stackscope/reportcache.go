package main

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"os"
	"strings"

	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/libcache"
	"github.com/stackscope/stackscope/internal/resultcache"
	"github.com/stackscope/stackscope/internal/srcloc"
)

// reportCache is analyze's cache of whole reports (resultcache), opened
// on first use; nil with --no-cache.
func (fl *analyzeFlags) reportCache() *resultcache.Cache {
	if fl.noCache {
		return nil
	}
	if fl.results == nil {
		fl.results = resultcache.Open(version(), libcache.ToolID(version()))
	}
	return fl.results
}

// reportKey is the key of path's report under these flags (the format
// included), and the libraries it names; ok false when the report cannot
// be cached (no cache, or the program or its configuration cannot be
// read: the analysis then says what is wrong).
// The mode ("one", a whole report; "many", a file's part of a run over
// many) is in the key too: the two store different pieces.
func (fl *analyzeFlags) reportKey(path, mode string) (key string, deps resultcache.Dependencies, ok bool) {
	c := fl.reportCache()
	if c == nil {
		return "", deps, false
	}
	settings, ok := fl.reportSettings(c, path)
	if !ok {
		return "", deps, false
	}
	settings = append(settings, "mode: "+mode)
	roots := append(append([]string{}, binfile.DebugRoots...), srcloc.DebugRoots...)
	key, deps, err := c.Key(resultcache.Inputs{Program: path, LibPaths: fl.libPaths, DebugRoots: roots, Settings: settings})
	return key, deps, err == nil
}

// reportSettings are the inputs of a report besides the files the key
// finds itself: every flag (the whole flag struct, so that a flag added
// later is in the key without anyone remembering to add it), the working
// directory (reports print paths relative to it), and the configuration
// file the analysis will read, by its path and bytes (none is a setting
// too: a stackscope.toml that appears beside the program changes it).
func (fl *analyzeFlags) reportSettings(c *resultcache.Cache, path string) ([]string, bool) {
	flags := *fl
	flags.libs, flags.results = nil, nil
	flags.out.output = "" // where the report goes does not change it
	wd, err := os.Getwd()
	if err != nil {
		return nil, false
	}
	cfg, err := config.Load(fl.configPath, path)
	if err != nil {
		return nil, false
	}
	conf := "config: none"
	if cfg.Path != "" {
		h, err := c.FileHash(cfg.Path)
		if err != nil {
			return nil, false
		}
		conf = "config: " + cfg.Path + " " + h
	}
	return []string{fmt.Sprintf("flags: %#v", flags), "cwd: " + wd, conf}, true
}

// storeReport keeps the pieces of res's report under key when the
// analysis loaded the libraries the key names.
func (fl *analyzeFlags) storeReport(key string, deps resultcache.Dependencies, res *analysis.Result, pieces resultcache.Entry) {
	if !deps.Matches(res.Libraries, res.MissingLibraries) {
		return // the key would not name what the report depends on
	}
	fl.reportCache().Put(key, pieces)
}

// cachedFile is one file's part of a run over many files, as stored.
type cachedFile struct {
	Entry, Bound, Verdict string
	Whys                  []string
	// The JSON array element (--format json) is a piece of its own
	// ("element"): a large program's is tens of MB, not to be copied by
	// a second decoding.
}

func (c cachedFile) encode() []byte {
	var b bytes.Buffer
	gob.NewEncoder(&b).Encode(c)
	return b.Bytes()
}

func decodeCachedFile(data []byte) (c cachedFile, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return c, gob.NewDecoder(bytes.NewReader(data)).Decode(&c) == nil
}

// joinLines and splitLines store a list of one-line messages.
func joinLines(s []string) []byte { return []byte(strings.Join(s, "\n")) }

func splitLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\n")
}
