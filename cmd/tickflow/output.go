package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/term"
)

// Output helpers every command uses, so the CLI speaks in one voice (see
// docs/cli-conventions.md).

// plural returns "1 record" or "2 records": n, then the noun in the right
// number. many is the plural form ("" adds an s).
func plural[N int | int32 | int64](n N, one, many string) string {
	if many == "" {
		many = one + "s"
	}
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// partitionOffsets prints per-partition offsets as "0:14286 1:14290 …" in
// partition order ("none" when empty), never as a Go map.
func partitionOffsets(m map[int32]int64) string {
	if len(m) == 0 {
		return "none"
	}
	ps := make([]int32, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("%d:%d", p, m[p])
	}
	return strings.Join(parts, " ")
}

// isTerminal reports whether w is a terminal (progress is then drawn in
// place; otherwise it is printed as plain periodic lines).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// libraryPrefixes are the "pkg: " prefixes tickflow's packages put on their
// errors; the CLI names flags instead (docs/cli-conventions.md).
var libraryPrefixes = []string{"produce: ", "sink: ", "lake: ", "objstore: ", "broker: ", "bench: ", "demo: "}

// cliText returns err's message without leading package prefixes.
func cliText(err error) string {
	msg := err.Error()
	for again := true; again; {
		again = false
		for _, p := range libraryPrefixes {
			if rest, ok := strings.CutPrefix(msg, p); ok {
				msg, again = rest, true
			}
		}
	}
	return msg
}
