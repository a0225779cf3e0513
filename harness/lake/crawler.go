package lake

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tickflow/tickflow/harness/tick"
)

// Table is one table a default Glue crawler would create, as predicted by
// the emulation.
type Table struct {
	Name          string        `json:"name"`
	Location      string        `json:"location"` // key prefix (folder) or object key of the table
	Format        string        `json:"format"`   // parquet or json
	Compression   string        `json:"compression"`
	Columns       []tick.Column `json:"columns"`
	PartitionKeys []tick.Column `json:"partition_keys"`
	Objects       int           `json:"objects"`
}

// similarityThreshold is the crawler's schema similarity for treating
// folders as partitions of one table (G crawler-grouping-policy).
const similarityThreshold = 0.7

// maxSchemaClusters is how many distinct schemas one table may absorb.
const maxSchemaClusters = 5

// predictTables emulates a default crawler whose include path is the folder
// holding the table root. The emulation follows the documented behaviour and
// simplifies where AWS does not document details:
//   - objects directly under the table root next to folders each become a
//     table named after the object (G crawler-maximum-number-of-tables);
//   - the remaining objects are grouped by folder depth; the deepest-populated
//     depth with most objects keeps the root's name, others get per-folder tables;
//   - one table needs one format+compression and every leaf folder's schema
//     ≥70 % similar (Jaccard over name:type) to the majority, ≤5 distinct
//     schemas; otherwise every leaf folder becomes its own table;
//   - partition keys come from key=value folder names (lowercased), plain
//     folders become partition_0, partition_1, … (naming observed);
//   - marker objects and unreadable objects are left out (they are already
//     L03/L04 violations).
func predictTables(tableName, root string, files []*file) []Table {
	var rootFiles []*file
	byDepth := map[int][]*file{}
	for _, f := range files {
		if !f.readable() {
			continue
		}
		if len(f.folders) == 0 {
			rootFiles = append(rootFiles, f)
			continue
		}
		byDepth[len(f.folders)] = append(byDepth[len(f.folders)], f)
	}
	var tables []Table
	if len(byDepth) == 0 && len(rootFiles) > 0 {
		// Only objects at the root: one unpartitioned table if compatible.
		if t, ok := oneTable(tableName, root, rootFiles, 0); ok {
			return []Table{t}
		}
	}
	for _, f := range rootFiles {
		tables = append(tables, tableOf(sanitize(f.name), f.key, []*file{f}, 0))
	}
	depths := make([]int, 0, len(byDepth))
	for d := range byDepth {
		depths = append(depths, d)
	}
	sort.Slice(depths, func(i, j int) bool {
		if len(byDepth[depths[i]]) != len(byDepth[depths[j]]) {
			return len(byDepth[depths[i]]) > len(byDepth[depths[j]])
		}
		return depths[i] < depths[j]
	})
	for i, d := range depths {
		group := byDepth[d]
		if i == 0 {
			if t, ok := oneTable(tableName, root, group, d); ok {
				tables = append(tables, t)
				continue
			}
		}
		tables = append(tables, perFolderTables(root, group)...)
	}
	return uniqueNames(tables)
}

// oneTable returns the single table for files of one depth, or false when the
// crawler would split them.
func oneTable(name, root string, files []*file, depth int) (Table, bool) {
	formats := map[string]bool{}
	for _, f := range files {
		formats[formatOf(f)] = true
	}
	if len(formats) > 1 {
		return Table{}, false
	}
	// Schema per leaf folder.
	folderSchemas := map[string][]tick.Column{}
	for _, f := range files {
		k := strings.Join(f.folders, "/")
		folderSchemas[k] = unionColumns(folderSchemas[k], f.schema)
	}
	counts := map[string]int{}
	for _, s := range folderSchemas {
		counts[colsString(s)]++
	}
	if len(counts) > maxSchemaClusters {
		return Table{}, false
	}
	main := majority(counts)
	var ref []tick.Column
	for _, s := range folderSchemas {
		if colsString(s) == main {
			ref = s
			break
		}
	}
	for _, s := range folderSchemas {
		if similarity(s, ref) < similarityThreshold {
			return Table{}, false
		}
	}
	t := tableOf(name, root, files, depth)
	// Columns: the majority schema first, then extra columns in first-seen order.
	cols := append([]tick.Column(nil), ref...)
	for _, f := range files {
		cols = unionColumns(cols, f.schema)
	}
	t.Columns = cols
	return t, true
}

func tableOf(name, location string, files []*file, depth int) Table {
	t := Table{Name: name, Location: location, Objects: len(files)}
	if len(files) > 0 {
		t.Format, t.Compression = files[0].format, files[0].compression
	}
	for _, f := range files {
		t.Columns = unionColumns(t.Columns, f.schema)
	}
	for level := 0; level < depth; level++ {
		key := ""
		for _, f := range files {
			k, _, ok := parsePartition(f.folders[level])
			k = strings.ToLower(k)
			if !ok || (key != "" && k != key) {
				key = fmt.Sprintf("partition_%d", level)
				break
			}
			key = k
		}
		t.PartitionKeys = append(t.PartitionKeys, tick.Column{Name: key, Type: "string"})
	}
	return t
}

// perFolderTables makes one table per leaf folder (and format, when a folder mixes formats).
func perFolderTables(root string, files []*file) []Table {
	groups := map[string][]*file{}
	var order []string
	for _, f := range files {
		k := strings.Join(f.folders, "/") + "\x00" + formatOf(f)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], f)
	}
	sort.Strings(order)
	folderFormats := map[string]int{}
	for _, k := range order {
		folder, _, _ := strings.Cut(k, "\x00")
		folderFormats[folder]++
	}
	var tables []Table
	for _, k := range order {
		folder, format, _ := strings.Cut(k, "\x00")
		fs := groups[k]
		name := sanitize(fs[0].folders[len(fs[0].folders)-1])
		if folderFormats[folder] > 1 {
			name += "_" + sanitize(format)
		}
		tables = append(tables, tableOf(name, folderKey(root, fs[0].folders), fs, 0))
	}
	return tables
}

func unionColumns(a, b []tick.Column) []tick.Column {
	idx := make(map[string]int, len(a))
	for i, c := range a {
		idx[c.Name] = i
	}
	for _, c := range b {
		if i, ok := idx[c.Name]; ok {
			if a[i].Type != c.Type {
				a[i].Type = mergeKind(a[i].Type, c.Type)
			}
			continue
		}
		idx[c.Name] = len(a)
		a = append(a, c)
	}
	return a
}

func colsString(cols []tick.Column) string {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = c.Name + ":" + c.Type
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

// similarity is the Jaccard index of two schemas' name:type pairs.
func similarity(a, b []tick.Column) float64 {
	set := map[string]int{}
	for _, c := range a {
		set[c.Name+":"+c.Type] |= 1
	}
	for _, c := range b {
		set[c.Name+":"+c.Type] |= 2
	}
	if len(set) == 0 {
		return 1
	}
	both := 0
	for _, v := range set {
		if v == 3 {
			both++
		}
	}
	return float64(both) / float64(len(set))
}

// sanitize turns a folder or object name into a Glue table name: lowercase,
// anything but [a-z0-9_] becomes _.
func sanitize(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// uniqueNames suffixes clashing table names the way the crawler
// disambiguates them (it appends a hash; we append _2, _3, …).
func uniqueNames(ts []Table) []Table {
	seen := map[string]int{}
	for i := range ts {
		seen[ts[i].Name]++
		if n := seen[ts[i].Name]; n > 1 {
			ts[i].Name = fmt.Sprintf("%s_%d", ts[i].Name, n)
		}
	}
	return ts
}

// checkCrawler applies C01 to a crawled table: exactly one table named
// like def with def's columns (as a crawler types them) and partition keys.
func checkCrawler(rep *Report, root string, files []*file, def *TableDef) {
	name := sanitize(def.Name)
	ts := rep.Tables
	if len(ts) != 1 {
		names := make([]string, len(ts))
		for i, t := range ts {
			names[i] = t.Name
		}
		rep.add(violation("C01", root, "", "a default Glue crawler would create %d tables (%s), not one table %s", len(ts), strings.Join(names, ", "), name))
		return
	}
	t := ts[0]
	var diffs []string
	if t.Name != name {
		diffs = append(diffs, fmt.Sprintf("table name %q, not %q", t.Name, name))
	}
	want := expectedColumns(def, t.Format)
	if colsList(t.Columns) != colsList(want) {
		d := fmt.Sprintf("columns (%s), the contract's %s schema is (%s)", colsList(t.Columns), t.Format, colsList(want))
		// Name an object to look at: when every file has the same wrong
		// schema no per-file rule (L05) points at one.
		for _, f := range files {
			if f.readable() && !f.jsonArray && f.format == t.Format && colsList(f.schema) != colsList(want) {
				d += fmt.Sprintf(", e.g. %s has (%s)", f.key, colsList(f.schema))
				break
			}
		}
		diffs = append(diffs, d)
	}
	var wantKeys []tick.Column
	for _, k := range def.PartitionKeys {
		wantKeys = append(wantKeys, tick.Column{Name: strings.ToLower(k.Name), Type: "string"})
	}
	if colsList(t.PartitionKeys) != colsList(wantKeys) {
		diffs = append(diffs, fmt.Sprintf("partition keys (%s), not (%s)", colsList(t.PartitionKeys), colsList(wantKeys)))
	}
	if len(diffs) > 0 {
		rep.add(violation("C01", root, "", "the crawler's table would have %s", strings.Join(diffs, "; ")))
	}
}

func colsList(cols []tick.Column) string {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = c.Name + " " + c.Type
	}
	return strings.Join(s, ", ")
}
