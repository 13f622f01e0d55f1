package main

import (
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/spf13/cobra"
)

// version is the one string that names this build of stackscope: printed by
// `stackscope version` and --version, and carried by the HTML header, SARIF's
// driver.version and every JSON report's stackscope_version, so a report can
// always be traced back to the build that wrote it.
var version = sync.OnceValue(func() string {
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(bi)
})

// versionFrom picks, in order: the module version `go install
// module@version` stamps; else the VCS revision and commit time `go build`
// stamps in a checkout (with "-dirty" when the tree had local changes, since
// then the revision alone does not say what was built); else "devel".
func versionFrom(bi *debug.BuildInfo) string {
	if bi == nil {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, at string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v := "devel-" + rev
	if dirty {
		v += "-dirty"
	}
	if at != "" {
		v += " (" + at + ")"
	}
	return v
}

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		return &cobra.Command{
			Use:   "version",
			Short: "Print the version of this stackscope build",
			Long: `version prints the version of this build: the module version when installed
with go install, else the commit and its time when built from a checkout
("-dirty" when the checkout had local changes), else "devel". Reports carry
the same string (HTML header, SARIF driver.version, JSON stackscope_version).

Exit status: 0.`,
			Args: cobra.NoArgs,
			Run: func(cmd *cobra.Command, args []string) {
				fmt.Fprintln(cmd.OutOrStdout(), "stackscope "+version())
			},
		}
	})
}

// setVersionFlag makes `stackscope --version` print what `stackscope
// version` prints (cobra's own flag, with our string and format).
func setVersionFlag(root *cobra.Command) {
	root.Version = version()
	root.SetVersionTemplate("stackscope {{.Version}}\n")
}
