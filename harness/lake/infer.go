package lake

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/tickflow/tickflow/harness/objstore"
)

// Infer predicts the tables a default Glue crawler would create when its
// include path is prefix: every folder directly under prefix is a candidate
// table root (split further when formats or schemas differ), every object
// directly under prefix a table of its own. It reads every object, so use it
// on a lake nobody has described yet; to check a known table use Check.
func Infer(ctx context.Context, st objstore.Store, prefix string, opts ...Option) ([]Table, error) {
	cfg := config{concurrency: 8}
	for _, o := range opts {
		o(&cfg)
	}
	prefix = strings.TrimPrefix(prefix, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	listed, err := st.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("lake: list %s %s: %w", st, prefix, err)
	}
	groups := map[string][]objstore.Object{}
	var roots []string
	var loose []objstore.Object
	for _, o := range listed {
		rel := strings.TrimPrefix(o.Key, prefix)
		seg, _, nested := strings.Cut(rel, "/")
		if !nested {
			loose = append(loose, o)
			continue
		}
		if _, ok := groups[seg]; !ok {
			roots = append(roots, seg)
		}
		groups[seg] = append(groups[seg], o)
	}
	if len(listed) == 0 {
		return nil, fmt.Errorf("%w %s in %s (does the prefix exist?)", ErrEmptyLake, prefix, st)
	}
	sort.Strings(roots)
	var tables []Table
	for _, seg := range roots {
		root := prefix + seg + "/"
		files, err := readAll(ctx, st, root, groups[seg], cfg.concurrency, builtin)
		if err != nil {
			return nil, err
		}
		tables = append(tables, predictTables(sanitize(seg), root, files)...)
	}
	if len(loose) > 0 {
		files, err := readAll(ctx, st, prefix, loose, cfg.concurrency, builtin)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if f.readable() {
				tables = append(tables, tableOf(sanitize(f.name), f.key, []*file{f}, 0))
			}
		}
	}
	return uniqueNames(tables), nil
}

// WriteTables prints predicted tables the way `tickflow verify` does.
func WriteTables(w io.Writer, tables []Table) error {
	ew := &errWriter{w: w}
	ew.printf("PREDICTED GLUE TABLES (%d)\n", len(tables))
	for _, t := range tables {
		ew.printf("\n%s  (%s, compression %s, %d objects, location %s)\n", t.Name, t.Format, t.Compression, t.Objects, t.Location)
		tw := tabwriter.NewWriter(ew, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  column\ttype\n")
		for _, c := range t.Columns {
			fmt.Fprintf(tw, "  %s\t%s\n", c.Name, c.Type)
		}
		for _, k := range t.PartitionKeys {
			fmt.Fprintf(tw, "  %s\t%s (partition key)\n", k.Name, k.Type)
		}
		tw.Flush()
	}
	return ew.err
}
