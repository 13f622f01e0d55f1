package main

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"
	"github.com/stackscope/stackscope/internal/analysis"
	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/config"
	"github.com/stackscope/stackscope/internal/libcache"
)

// analysisFlags are the flags of every command that analyses an ELF file
// (analyze, report, diff): which entries, where the libraries are, the
// configuration, and whether indirect-call targets may be assumed.
type analysisFlags struct {
	entries     []string
	libPaths    []string
	noLibraries bool
	configPath  string
	strict      bool
	exclude     []string
	ownCode     bool
	ldAudit     bool
	noCache     bool
	// libs shares the libraries between the files of one command, and
	// with later runs through the disk cache unless --no-cache.
	libs *libcache.Cache
	// resultOnly: the command analyses one file and reads only its result
	// model, not its call graph (analysis.Options.ResultOnly); with
	// --no-cache its library cache keeps no frames (libcache.Single).
	resultOnly bool
	// namesOnDemand: the command reads the functions' names only through
	// analysis.Function.DisplayName (analysis.Options.NamesOnDemand).
	namesOnDemand bool
}

func (a *analysisFlags) register(f *pflag.FlagSet) {
	f.StringArrayVar(&a.entries, "entry", nil, "entry point to bound (repeatable; replaces the defaults)")
	f.StringArrayVar(&a.libPaths, "lib-path", nil, "directory to search for shared libraries first (repeatable)")
	f.BoolVar(&a.noLibraries, "no-libraries", false, "do not follow calls into shared libraries (they become external)")
	f.StringVar(&a.configPath, "config", "", "annotations and budgets (default: stackscope.toml beside the binary or in the working directory)")
	f.StringArrayVar(&a.exclude, "exclude", nil, "set aside every path through this function, an error path such as an assert handler (repeatable; as [[exclude]] in stackscope.toml)")
	f.BoolVar(&a.ownCode, "own-code", false, "also bound each entry's own code, every library call counted as the library function's bound, or listed when it has none")
	f.BoolVar(&a.ldAudit, "ld-audit", false, "keep ld.so's _dl_audit_* hooks on the program's start (they run only under LD_AUDIT; as ld_audit = true in stackscope.toml)")
	f.BoolVar(&a.noCache, "no-cache", false, "neither read nor write the cache under the user cache directory (shared libraries' frames per build ID; analyze's stored reports)")
	f.BoolVar(&a.strict, "strict", false, "rest on no premise: only annotated or proved indirect-call targets (never the address-taken set), no glibc model, no stack-argument rule")
}

// analyse loads the configuration for path and analyses it; errors are
// exit-2 errors with one line naming the file.
func (a *analysisFlags) analyse(path string) (*analysis.Result, *config.Config, analysis.Options, error) {
	cfg, err := config.Load(a.configPath, path)
	if err != nil {
		return nil, nil, analysis.Options{}, &exitError{Code: exitUsage, Err: err}
	}
	opts := analysis.Options{Entries: a.entries, LibPaths: a.libPaths, NoLibraries: a.noLibraries, Strict: a.strict, Config: cfg, Exclude: a.exclude, OwnCode: a.ownCode, LDAudit: a.ldAudit,
		Libraries: a.libraryCache(), ResultOnly: a.resultOnly, NamesOnDemand: a.namesOnDemand}
	res, err := analysis.Run(path, opts)
	if err != nil {
		var ie *binfile.InputError
		if errors.As(err, &ie) {
			return nil, nil, opts, &exitError{Code: exitUsage, Err: ie}
		}
		return nil, nil, opts, &exitError{Code: exitUsage, Err: fmt.Errorf("%s: %v", path, err)}
	}
	return res, cfg, opts, nil
}

// libraryCache is the command's library cache, opened on first use.
func (a *analysisFlags) libraryCache() *libcache.Cache {
	if a.libs == nil {
		if a.noCache && a.resultOnly {
			a.libs = libcache.Single() // one file: nothing to share its frames with
		} else if a.noCache {
			a.libs = libcache.Memory()
		} else {
			a.libs = libcache.Open(version())
		}
	}
	return a.libs
}

// flushCache stores the library frames the command computed (nothing
// with --no-cache); call it once the analyses are done.
func (a *analysisFlags) flushCache() { a.libs.Flush() }
