package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// commit is set at build time by `make build` (-ldflags "-X main.commit=...");
// otherwise the build's VCS stamp is used when there is one.
var commit string

// versionText is what `tickflow --version` prints: the module version, the
// commit, the Go version and the versions of the fakes inside.
func versionText() string {
	version, rev, modified := "(devel)", commit, false
	deps := map[string]string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		for _, d := range bi.Deps {
			v := d.Version
			if d.Replace != nil {
				v = d.Replace.Version + " (replaces " + d.Version + ")"
			}
			deps[d.Path] = v
		}
	}
	if rev == "" {
		rev = "unknown (build with make build to record it)"
	} else if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified {
		rev += " (modified)"
	}
	dep := func(path string) string {
		if v, ok := deps[path]; ok {
			return v
		}
		return "unknown"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tickflow %s\n", version)
	fmt.Fprintf(&b, "  commit    %s\n", rev)
	fmt.Fprintf(&b, "  go        %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "  kfake     %s\n", dep("github.com/twmb/franz-go/pkg/kfake"))
	fmt.Fprintf(&b, "  gofakes3  %s\n", dep("github.com/johannesboyne/gofakes3"))
	fmt.Fprintf(&b, "  franz-go  %s\n", dep("github.com/twmb/franz-go"))
	return b.String()
}
