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
	inf, err := InferLake(ctx, st, prefix, opts...)
	if err != nil {
		return nil, err
	}
	return inf.Tables, nil
}

// Inference is InferLake's prediction: the tables, and per folder under the
// prefix (and for the objects directly under it) how many tables a crawler
// would make there and why.
type Inference struct {
	Store   string         `json:"store"`
	Prefix  string         `json:"prefix"`
	Tables  []Table        `json:"tables"`
	Folders []FolderTables `json:"folders"`
}

// FolderTables is what a crawler makes of one folder under the prefix
// (Folder "" stands for the objects directly under the prefix).
type FolderTables struct {
	Folder  string `json:"folder"`
	Objects int    `json:"objects"`
	Tables  int    `json:"tables"`
	// Why says why there is not exactly one table, with the fix ("" when
	// there is one).
	Why string `json:"why,omitempty"`
}

// InferLake is Infer with the summary a person reads first: per folder,
// how many tables and why.
func InferLake(ctx context.Context, st objstore.Store, prefix string, opts ...Option) (*Inference, error) {
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
	inf := &Inference{Store: st.String(), Prefix: prefix}
	var tables []Table
	for _, seg := range roots {
		root := prefix + seg + "/"
		files, err := readAll(ctx, st, root, groups[seg], cfg.concurrency, builtin)
		if err != nil {
			return nil, err
		}
		ts := predictTables(sanitize(seg), root, files)
		tables = append(tables, ts...)
		inf.Folders = append(inf.Folders, FolderTables{Folder: root, Objects: len(files), Tables: len(ts), Why: splitReason(root, files, len(ts))})
	}
	if len(loose) > 0 {
		files, err := readAll(ctx, st, prefix, loose, cfg.concurrency, builtin)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, f := range files {
			if f.readable() {
				tables = append(tables, tableOf(sanitize(f.name), f.key, []*file{f}, 0))
				n++
			}
		}
		ft := FolderTables{Folder: "", Objects: len(files), Tables: n}
		if n > 0 {
			ft.Why = fmt.Sprintf("%s at the root: the crawler makes one table per object — put them under a folder (e.g. %s<table>/)",
				thousands(len(files), "object"), prefix)
		}
		inf.Folders = append(inf.Folders, ft)
	}
	inf.Tables = uniqueNames(tables)
	return inf, nil
}

// splitReason says why a crawler makes n tables (not one) of a folder's files.
func splitReason(root string, files []*file, n int) string {
	var readable, atRoot int
	formats := map[string]bool{}
	depths := map[int]bool{}
	for _, f := range files {
		if !f.readable() {
			continue
		}
		readable++
		formats[formatOf(f)] = true
		if len(f.folders) == 0 {
			atRoot++
		} else {
			depths[len(f.folders)] = true
		}
	}
	switch {
	case n == 1:
		return ""
	case n == 0 && len(files) > 0:
		return "no readable data object (markers or unreadable files only)"
	case n == 0:
		return ""
	case atRoot > 0 && len(depths) > 0:
		return fmt.Sprintf("%s directly in %s next to folders: the crawler makes one table per such object — move them into the partition folders", thousands(atRoot, "object"), root)
	case len(formats) > 1:
		var fs []string
		for f := range formats {
			fs = append(fs, f)
		}
		sort.Strings(fs)
		return fmt.Sprintf("mixed formats (%s): the crawler makes one table per format and folder — write one format per table", strings.Join(fs, ", "))
	case len(depths) > 1:
		return "objects at different folder depths: the crawler makes tables per depth — put every object the same number of partition folders deep"
	}
	return "the folders' schemas differ (under 70 % similar, or more than 5 schemas): the crawler makes one table per folder — write one schema per table"
}

// thousands writes "4,338 objects".
func thousands(n int, noun string) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if n == 1 {
		return s + " " + noun
	}
	return s + " " + noun + "s"
}

// maxTablesListed is how many predicted tables WriteText lists without
// verbose; beyond it the summary says how to see them.
const maxTablesListed = 10

// maxFoldersListed bounds the summary's per-folder lines.
const maxFoldersListed = 20

// WriteText prints the summary first — how many tables a default crawler
// would create and why — then every table with its columns when verbose or
// when there are at most 10.
func (inf *Inference) WriteText(w io.Writer, verbose bool) error {
	ew := &errWriter{w: w}
	ew.printf("A default Glue crawler with include path %s/%s would create %s.\n", inf.Store, inf.Prefix, thousands(len(inf.Tables), "table"))
	listed := 0
	for _, f := range inf.Folders {
		if f.Why == "" && !verbose && len(inf.Folders) > maxFoldersListed {
			continue // one table, as expected: only listed when few
		}
		if listed == maxFoldersListed && !verbose {
			ew.printf("  … (--verbose lists every folder)\n")
			break
		}
		listed++
		name := f.Folder
		if name == "" {
			name = "(objects at the include path)"
		}
		switch {
		case f.Why == "" && f.Tables == 0:
			ew.printf("  %s: %s, no data file: no table\n", name, thousands(f.Objects, "object"))
		case f.Why == "" && f.Tables == 1:
			ew.printf("  %s: %s, 1 table\n", name, thousands(f.Objects, "object"))
		case f.Why == "":
			ew.printf("  %s: %s, %s\n", name, thousands(f.Objects, "object"), thousands(f.Tables, "table"))
		default:
			ew.printf("  %s: %s → %s: %s\n", name, thousands(f.Objects, "object"), thousands(f.Tables, "table"), f.Why)
		}
	}
	if ew.err != nil {
		return ew.err
	}
	if !verbose && len(inf.Tables) > maxTablesListed {
		ew.printf("\n%s predicted: --verbose lists each with its columns\n", thousands(len(inf.Tables), "table"))
		return ew.err
	}
	ew.printf("\n")
	if err := WriteTables(ew, inf.Tables); err != nil {
		return err
	}
	return ew.err
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
