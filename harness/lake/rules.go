package lake

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/tickflow/tickflow/harness/tick"
)

var (
	// objectName is L12's deterministic name: <topic>+<partition>+<startOffset %020d>.<ext>.
	objectName = regexp.MustCompile(`^([A-Za-z0-9._-]+)\+([0-9]+)\+([0-9]{20})\.(parquet|json|json\.gz)$`)
	columnName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	partValue  = regexp.MustCompile(`^[0-9a-zA-Z_-]+$`)
)

// reservedWords are Athena DDL and DML reserved words (A reserved-words);
// a column named like one needs quoting everywhere and breaks some tools.
var reservedWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`all alter and array as authorization between bigint binary boolean both by case cashe cast char
	column conf constraint commit create cross cube current current_date current_timestamp cursor database date dayofweek decimal
	delete describe distinct div double drop else end exchange exists extended external extract false fetch float floor following
	for foreign from full function grant group grouping having if import in inner insert int integer intersect interval into is join
	lateral left less like local macro map more none not null numeric of on only or order out outer over partialscan partition
	percent preceding precision preserve primary procedure range reads reduce regexp references revoke right rlike rollback rollup
	row rows select set smallint start table tablesample then time timestamp to transform trigger true truncate unbounded union
	uniquejoin update user using utc_timestamp values varchar views when where window with
	current_catalog current_path current_role current_schema current_time current_user deallocate escape except execute first
	json_array json_arrayagg json_exists json_object json_objectagg json_query json_table json_value last listagg localtime
	localtimestamp natural normalize prepare recursive skip trim uescape unnest`) {
		m[w] = true
	}
	return m
}()

// parsePartition reads a Hive partition folder "key=value".
func parsePartition(seg string) (key, value string, ok bool) {
	k, v, ok := strings.Cut(seg, "=")
	if !ok || k == "" {
		return "", "", false
	}
	return k, v, true
}

// partitionTime returns the start of the hour a valid dt=/hour= folder pair names.
func partitionTime(folders []string) (time.Time, bool) {
	if len(folders) != 2 {
		return time.Time{}, false
	}
	k1, v1, ok1 := parsePartition(folders[0])
	k2, v2, ok2 := parsePartition(folders[1])
	if !ok1 || !ok2 || k1 != "dt" || k2 != "hour" {
		return time.Time{}, false
	}
	d, err := time.Parse(time.DateOnly, v1)
	if err != nil {
		return time.Time{}, false
	}
	h, ok := hourValue(v2)
	if !ok {
		return time.Time{}, false
	}
	return d.Add(time.Duration(h) * time.Hour), true
}

// hourValue reads an hour partition value: exactly two ASCII digits, 00–23.
// (strconv.Atoi alone would take "-0" and "+1".)
func hourValue(v string) (int, bool) {
	if len(v) != 2 || v[0] < '0' || v[0] > '9' || v[1] < '0' || v[1] > '9' {
		return 0, false
	}
	h := int(v[0]-'0')*10 + int(v[1]-'0')
	return h, h <= 23
}

func folderKey(root string, folders []string) string {
	return root + strings.Join(folders, "/") + "/"
}

func checkRules(rep *Report, files []*file, cfg *config, proj *projection) {
	root := rep.Location
	def := cfg.def
	// Object names are checked where tickflow's sink names them: the
	// built-in table, or objects with the sink's metadata. Other tables
	// with Kafka columns get the offset coverage alone.
	sinkNamed := def.sinkNames || sinkMetadata(files)
	seenFolder := map[string]bool{}
	for _, f := range files {
		if f.marker != "" {
			msg := fmt.Sprintf("%s is %s", f.rel, f.marker)
			if f.hidden {
				msg += fmt.Sprintf(": its %s invisible to every query", plural(f.rows, "row is", "rows are"))
			} else {
				msg += "; Athena reads every object under the location"
			}
			rep.add(violation("L03", f.key, "", "%s", msg))
			continue
		}
		if len(f.folders) == 0 && len(def.PartitionKeys) > 0 {
			crawler := "the crawler may make it a separate table and "
			if !def.Crawled {
				crawler = ""
			}
			rep.add(violation("L02", f.key, "", "object %s sits directly under the table root beside the partition folders; %sits rows are outside every partition, so no query of the partitioned table reads them", f.name, crawler))
		} else if fk := folderKey(root, f.folders); len(f.folders) > 0 && !seenFolder[fk] {
			seenFolder[fk] = true
			checkFolders(rep, fk, f.folders, def, proj)
		}
		if f.unreadable != "" {
			rep.add(violation("L04", f.key, "", "%s cannot be read: %s", f.rel, f.unreadable))
		} else if def.Format != "" && f.format != "" && f.format != def.Format {
			rep.add(violation("L04", f.key, "", "%s is %s but the table declares %s (SerDe %s): Athena cannot read it (HIVE_CURSOR_ERROR or HIVE_BAD_DATA)", f.rel, formatOf(f), def.Format, def.SerDe))
		}
		if sinkNamed && !objectName.MatchString(f.name) {
			rep.add(violation("L12", f.key, "", "object name %q is not <topic>+<kafkaPartition>+<startOffset, 20 digits>.<parquet|json|json.gz>", f.name))
		}
		for _, v := range f.problems {
			rep.add(v)
		}
		if _, ok := def.column("event_time"); ok {
			checkPartitionMatch(rep, f)
		}
	}
	checkFormats(rep, files)
	if def.Format == FormatJSON && !def.json.openx && def.json.ignoreMalformed {
		v := violation("L06", def.Source, "drop ignore.malformed.json, or declare the OpenX SerDe ("+SerDeOpenXJSON+") if malformed lines must not fail queries",
			"the table sets ignore.malformed.json, which only the OpenX SerDe reads (Athena documents it for OpenX only; Trino's Hive JSON reader takes no property but timestamp.formats): with the Hive JSON SerDe a malformed line still fails the query")
		v.Severity = Warning
		rep.add(v)
	}
	if def.Crawled {
		checkSchemas(rep, files)
	} else {
		checkDrift(rep, files, def)
	}
	checkColumns(rep, files, def)
	checkJSONFlips(rep, files, def)
	if proj != nil {
		checkProjection(rep, files, def, proj, cfg.production)
	}
	if cfg.production {
		checkFileSizes(rep, root, files)
	}
}

// sinkMetadata reports whether any object carries the sink's S3 metadata.
func sinkMetadata(files []*file) bool {
	for _, f := range files {
		if f.meta[metaStart] != "" {
			return true
		}
	}
	return false
}

// timestampReport summarises how the Parquet files store each timestamp column.
func timestampReport(files []*file) []TimestampColumn {
	count := map[[2]string]int{}
	for _, f := range files {
		for col, enc := range f.timestamps {
			count[[2]string{col, enc}]++
		}
	}
	out := make([]TimestampColumn, 0, len(count))
	for k, n := range count {
		out = append(out, TimestampColumn{Column: k[0], Encoding: k[1], Files: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Column != out[j].Column {
			return out[i].Column < out[j].Column
		}
		return out[i].Encoding < out[j].Encoding
	})
	return out
}

// checkFolders applies L01, L13 and L16 to one folder path.
func checkFolders(rep *Report, key string, folders []string, def *TableDef, proj *projection) {
	var l01 []string
	value := func(k, v string) {
		if !partValue.MatchString(v) {
			why := "characters outside [0-9a-zA-Z_-]"
			if strings.Contains(v, ":") {
				why = "':' (MSCK REPAIR TABLE silently skips such partitions)"
			}
			rep.add(violation("L16", key, "", "partition value %q of %s contains %s", v, k, why))
		}
		if why, ok := partitionValueFormat(def, proj, k, v); !ok {
			l01 = append(l01, fmt.Sprintf("%s value %q is %s", k, v, why))
		}
	}
	if proj != nil && proj.template != nil {
		vals, ok := proj.values(folders)
		if !ok {
			rep.add(violation("L01", key, "", "folders %s do not have the shape of storage.location.template (%s below the location)", strings.Join(folders, "/"), plural(len(proj.template), "level", "")))
			return
		}
		for _, k := range def.PartitionKeys {
			if v, ok := vals[strings.ToLower(k.Name)]; ok {
				value(strings.ToLower(k.Name), v)
			}
		}
		if len(l01) > 0 {
			rep.add(violation("L01", key, "", "%s", strings.Join(l01, "; ")))
		}
		return
	}
	keys := def.PartitionKeys
	if n := len(folders) - len(keys); n > 0 && len(keys) > 0 && nestedRoot(folders[:n], folders[n:], keys) {
		rep.add(violation("L23", key, "", "folder %s/ holds its own %s partitions: it looks like another table's root nested inside this table's location, and Athena reads every object under the location, so its rows show up in this table too",
			strings.Join(folders[:n], "/"), strings.Join(folders[n:], "/")))
		return
	}
	if len(folders) != len(keys) {
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = strings.ToLower(k.Name) + "=…"
		}
		l01 = append(l01, fmt.Sprintf("objects are %s below the table root, the table has %d (%s)", plural(len(folders), "folder level", ""), len(keys), strings.Join(names, "/")))
	}
	for i, seg := range folders {
		k, v, ok := parsePartition(seg)
		if !ok {
			if def.Crawled {
				l01 = append(l01, fmt.Sprintf("folder %q is not key=value: a crawler makes it an unnamed partition_%d column (partition_N naming observed, not documented by AWS) and MSCK REPAIR ignores it", seg, i))
			} else {
				l01 = append(l01, fmt.Sprintf("folder %q is not key=value: MSCK REPAIR TABLE ignores it, so its rows are in no partition Athena reads", seg))
			}
			continue
		}
		if strings.EqualFold(k, "partition") && !def.isPartitionKey("partition") {
			rep.add(violation("L13", key, "", "folder %q is a Kafka partition folder (Confluent's default layout); partition is reserved and not a business key", seg))
		}
		if i >= len(keys) {
			if !partValue.MatchString(v) {
				value(k, v)
			}
			continue
		}
		want := strings.ToLower(keys[i].Name)
		switch {
		case k != want && strings.EqualFold(k, want):
			l01 = append(l01, fmt.Sprintf("partition key %q must be lowercase %q", k, want))
		case k != want:
			l01 = append(l01, fmt.Sprintf("folder level %d has key %q, the table needs %q", i+1, k, want))
		default:
			value(k, v)
		}
	}
	if len(l01) > 0 {
		rep.add(violation("L01", key, "", "%s", strings.Join(l01, "; ")))
	}
}

// nestedRoot reports whether lead (plain folders) followed by tail (the
// table's own key=value layout) is a table nested in the table's location.
func nestedRoot(lead, tail []string, keys []Column) bool {
	for _, seg := range lead {
		if _, _, ok := parsePartition(seg); ok {
			return false
		}
	}
	for i, seg := range tail {
		k, _, ok := parsePartition(seg)
		if !ok || k != strings.ToLower(keys[i].Name) {
			return false
		}
	}
	return true
}

// partitionValueFormat says whether v can be a value of partition key k:
// by its projection type when projected, else by its declared type.
func partitionValueFormat(def *TableDef, proj *projection, k, v string) (string, bool) {
	if proj != nil {
		if pk, ok := proj.key(k); ok {
			return pk.wellFormed(v)
		}
	}
	for _, c := range def.PartitionKeys {
		if !strings.EqualFold(c.Name, k) {
			continue
		}
		t := c.htype()
		if _, isInt := t.integer(); isInt {
			if strings.TrimLeft(strings.TrimPrefix(v, "-"), "0123456789") != "" || strings.TrimPrefix(v, "-") == "" {
				return "not an integer (the key is declared " + t.String() + ")", false
			}
		}
		if t.kind == "date" {
			if _, err := time.Parse(time.DateOnly, v); err != nil {
				return "not YYYY-MM-DD (the key is declared date)", false
			}
		}
	}
	return "", true
}

// checkPartitionMatch applies L10: every row's event_time lies in its folder's hour.
func checkPartitionMatch(rep *Report, f *file) {
	start, ok := partitionTime(f.folders)
	if !ok || !f.hasEvent {
		return
	}
	lo, hi := start.UnixMilli(), start.Add(time.Hour).UnixMilli()
	var outside, unparsable int
	var firstOut int64
	var firstRaw string
	for _, r := range f.recs {
		switch {
		case r.eventOK && (r.event < lo || r.event >= hi):
			if outside == 0 {
				firstOut = r.event
			}
			outside++
		case !r.eventOK && r.eventRaw != "":
			if unparsable == 0 {
				firstRaw = r.eventRaw
			}
			unparsable++
		}
	}
	if outside > 0 {
		rep.add(violation("L10", f.key, "", "%s with event_time outside %s, e.g. %s (offset order)",
			plural(outside, "row", ""), strings.Join(f.folders, "/"), time.UnixMilli(firstOut).UTC().Format(EventTimeLayout)))
	}
	if unparsable > 0 {
		rep.add(violation("L10", f.key, "", "%s with an event_time that is not %q, e.g. %s: their partition cannot be checked",
			plural(unparsable, "row", ""), "YYYY-MM-DD HH:MM:SS.mmm", firstRaw))
	}
}

func formatOf(f *file) string {
	if f.compression == "gzip" {
		return f.format + "+gzip"
	}
	return f.format
}

// majority returns the most frequent value (ties: the smallest, for determinism).
func majority(counts map[string]int) string {
	best, n := "", -1
	for k, c := range counts {
		if c > n || (c == n && k < best) {
			best, n = k, c
		}
	}
	return best
}

// checkFormats applies L04's "one format and one compression".
func checkFormats(rep *Report, files []*file) {
	counts := map[string]int{}
	for _, f := range files {
		if f.isData() && f.format != "" {
			counts[formatOf(f)]++
		}
	}
	if len(counts) < 2 {
		return
	}
	main := majority(counts)
	var all []string
	for k, c := range counts {
		all = append(all, fmt.Sprintf("%s×%d", k, c))
	}
	sort.Strings(all)
	for _, f := range files {
		if f.isData() && f.format != "" && formatOf(f) != main {
			rep.add(violation("L04", f.key, "", "%s is %s but most of the table is %s (formats found: %s); the crawler groups only same format and compression",
				f.rel, formatOf(f), main, strings.Join(all, ", ")))
		}
	}
}

// signature is the schema compared by L05: names and Glue types for Parquet,
// names only for JSON (type flips in JSON are L07's business).
func signature(f *file) map[string]string {
	m := make(map[string]string, len(f.schema))
	for _, c := range f.schema {
		if f.format == "json" {
			m[c.Name] = ""
		} else {
			m[c.Name] = c.Type
		}
	}
	return m
}

func sigString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k+":"+m[k])
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// checkSchemas applies L05 within the table's main format.
func checkSchemas(rep *Report, files []*file) {
	fmtCounts := map[string]int{}
	for _, f := range files {
		if f.readable() && !f.jsonArray {
			fmtCounts[f.format]++
		}
	}
	mainFmt := majority(fmtCounts)
	counts := map[string]int{}
	sigs := map[*file]map[string]string{}
	for _, f := range files {
		if f.readable() && !f.jsonArray && f.format == mainFmt {
			s := signature(f)
			sigs[f] = s
			counts[sigString(s)]++
		}
	}
	if len(counts) < 2 {
		return
	}
	mainSig := majority(counts)
	var ref map[string]string
	for _, s := range sigs {
		if sigString(s) == mainSig {
			ref = s
			break
		}
	}
	for _, f := range files {
		s, ok := sigs[f]
		if !ok || sigString(s) == mainSig {
			continue
		}
		var diffs []string
		for _, c := range f.schema {
			t, ok := ref[c.Name]
			switch {
			case !ok:
				diffs = append(diffs, "extra column "+c.Name+" (an added column: Athena reads Parquet and JSON by name, the crawler still splits)")
			case t != s[c.Name]:
				diffs = append(diffs, fmt.Sprintf("column %s is %s, other files have %s (a type change: HIVE_PARTITION_SCHEMA_MISMATCH once the crawler records this partition's schema)", c.Name, s[c.Name], t))
			}
		}
		var missing []string
		for name := range ref {
			if _, ok := s[name]; !ok {
				missing = append(missing, name)
			}
		}
		sort.Strings(missing)
		for _, m := range missing {
			diffs = append(diffs, "missing column "+m)
		}
		rep.add(violation("L05", f.key, "", "schema differs from the rest of the table: %s; Athena fails with HIVE_PARTITION_SCHEMA_MISMATCH", strings.Join(diffs, "; ")))
	}
}

// checkColumns applies L08 and L09 once per offending column name, and L08
// to the declared names.
func checkColumns(rep *Report, files []*file, def *TableDef) {
	type seen struct {
		first string
		n     int
	}
	bad := map[string]*seen{}
	var order []string
	for _, f := range files {
		if !f.readable() || f.jsonArray {
			continue
		}
		for _, c := range f.schema {
			name := c.Name
			if f.format == "json" && f.def.Source != "" {
				// A declared JSON table is read through a SerDe that
				// lowercases keys; their case is L21's business. (The
				// built-in table keeps judging names as its crawler sees them.)
				name = strings.ToLower(name)
			}
			if s, ok := bad[name]; ok {
				s.n++
				continue
			}
			bad[name] = &seen{first: f.key, n: 1}
			order = append(order, name)
		}
	}
	for _, name := range order {
		s := bad[name]
		where := ""
		if s.n > 1 {
			where = fmt.Sprintf(" (in %d files)", s.n)
		}
		if def.isPartitionKey(name) {
			rep.add(violation("L09", s.first, "", "partition key %q is also a column inside the files%s; Athena reports duplicate column metadata", name, where))
		}
		if why := badName(name); why != "" {
			rep.add(violation("L08", s.first, "", "column name %q %s%s", name, why, where))
		}
	}
	if def.Source != "" {
		for _, k := range def.PartitionKeys {
			if why := badName(k.Name); why != "" {
				rep.add(violation("L08", def.Source, "rename the partition key: ^[a-z][a-z0-9_]*$, not a reserved word", "partition key %q %s", k.Name, why))
			}
		}
	}
}

func badName(name string) string {
	switch {
	case len(name) > 255:
		return "is longer than 255 bytes"
	case !columnName.MatchString(name):
		return "is not lowercase ASCII letters, digits and _ starting with a letter"
	case reservedWords[name]:
		return "is an Athena reserved word"
	}
	return ""
}

// checkJSONFlips applies L07 to keys the table does not declare, in a
// crawled table: one JSON kind per key across all lines and files (int vs
// double vs string vs object), since the crawler infers the column's type
// from what it samples. (Declared columns are checked value by value while
// reading; Athena ignores undeclared keys in a table nobody crawls.)
func checkJSONFlips(rep *Report, files []*file, def *TableDef) {
	if !def.Crawled {
		return
	}
	kinds := map[string]map[string]int{}
	for _, f := range files {
		for col, ks := range f.jsonKinds {
			if kinds[col] == nil {
				kinds[col] = map[string]int{}
			}
			for k, n := range ks {
				kinds[col][k] += n
			}
		}
	}
	cols := make([]string, 0, len(kinds))
	for col := range kinds {
		cols = append(cols, col)
	}
	sort.Strings(cols)
	for _, col := range cols {
		ks := kinds[col]
		if len(ks) < 2 {
			continue
		}
		main := majority(ks)
		for _, f := range files {
			var other []string
			for k, n := range f.jsonKinds[col] {
				if k != main {
					other = append(other, fmt.Sprintf("%s in %s", k, plural(n, "line", "")))
				}
			}
			if len(other) > 0 {
				sort.Strings(other)
				rep.add(violation("L07", f.key, "", "key %s is written as %s here but as %s in most lines; the crawler's inferred type flips (to %s)",
					col, strings.Join(other, ", "), main, mergeKindsOf(ks)))
			}
		}
	}
}

func mergeKindsOf(ks map[string]int) string {
	names := make([]string, 0, len(ks))
	for k := range ks {
		names = append(names, k)
	}
	sort.Strings(names)
	t := ""
	for _, k := range names {
		t = mergeKind(t, k)
	}
	return t
}

// checkFileSizes applies L15 (production mode only): median object size per partition.
func checkFileSizes(rep *Report, root string, files []*file) {
	byFolder := map[string][]int64{}
	for _, f := range files {
		if f.isData() && len(f.folders) > 0 {
			k := folderKey(root, f.folders)
			byFolder[k] = append(byFolder[k], f.size)
		}
	}
	for k, sizes := range byFolder {
		sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
		med := sizes[len(sizes)/2]
		if len(sizes)%2 == 0 {
			med = (sizes[len(sizes)/2-1] + sizes[len(sizes)/2]) / 2
		}
		if med < MinProductionObjectSize {
			rep.add(violation("L15", k, "", "median object size is %d bytes over %s, below 64 MiB; many small files slow Athena down", med, plural(len(sizes), "object", "")))
		}
	}
}

// ExpectedColumns is the schema a crawler must infer for a lake of format
// "parquet" or "json" holding the built-in stock_ticks table (see
// expectedColumns).
func ExpectedColumns(format string) []tick.Column { return expectedColumns(StockTicks(), format) }

// expectedColumns is the schema a crawler infers for def's files. Parquet
// carries the declared types. JSON has no date or timestamp type, so the
// crawler infers them as string and every integer as bigint; the Athena DDL
// still declares the real types, which the JSON SerDe parses from those
// values.
func expectedColumns(def *TableDef, format string) []tick.Column {
	cols := make([]tick.Column, len(def.Columns))
	for i := range def.Columns {
		c := &def.Columns[i]
		t := crawlerKind(c.htype())
		if format == "json" {
			switch k := c.htype().kind; {
			case k == "date" || k == "timestamp":
				t = "string"
			case k == "int" || k == "tinyint" || k == "smallint":
				t = "bigint"
			case k == "decimal" || k == "float":
				t = "double"
			case k == "map" || k == "struct":
				t = "struct"
			case k == "array":
				t = "array"
			}
		}
		cols[i] = tick.Column{Name: c.Name, Type: t}
	}
	return cols
}
