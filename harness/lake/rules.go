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

func checkRules(rep *Report, files []*file, cfg *config) {
	root := rep.Location
	seenFolder := map[string]bool{}
	for _, f := range files {
		if f.marker != "" {
			rep.add(violation("L03", f.key, "", "%s is %s; Athena reads every object under the location", f.rel, f.marker))
			continue
		}
		if len(f.folders) == 0 {
			rep.add(violation("L02", f.key, "", "object %s sits directly under the table root beside the partition folders; the crawler may make it a separate table and its rows are outside every partition", f.name))
		} else if fk := folderKey(root, f.folders); !seenFolder[fk] {
			seenFolder[fk] = true
			checkFolders(rep, fk, f.folders)
		}
		if f.unreadable != "" {
			rep.add(violation("L04", f.key, "", "%s cannot be read: %s", f.rel, f.unreadable))
		}
		if !objectName.MatchString(f.name) {
			rep.add(violation("L12", f.key, "", "object name %q is not <topic>+<kafkaPartition>+<startOffset, 20 digits>.<parquet|json|json.gz>", f.name))
		}
		for _, v := range f.problems {
			rep.add(v)
		}
		checkPartitionMatch(rep, f)
	}
	checkFormats(rep, files)
	checkSchemas(rep, files)
	checkColumns(rep, files)
	checkJSONFlips(rep, files)
	if cfg.production {
		checkFileSizes(rep, root, files)
	}
}

// checkFolders applies L01, L13 and L16 to one folder path.
func checkFolders(rep *Report, key string, folders []string) {
	var l01 []string
	if len(folders) != 2 {
		l01 = append(l01, fmt.Sprintf("objects are %d folder level(s) below the table root, the contract has exactly 2 (dt=…/hour=…)", len(folders)))
	}
	want := []string{"dt", "hour"}
	for i, seg := range folders {
		k, v, ok := parsePartition(seg)
		if !ok {
			l01 = append(l01, fmt.Sprintf("folder %q is not key=value: a crawler makes it an unnamed partition_%d column (partition_N naming observed, not documented by AWS) and MSCK REPAIR ignores it", seg, i))
			continue
		}
		if strings.EqualFold(k, "partition") {
			rep.add(violation("L13", key, "", "folder %q is a Kafka partition folder (Confluent's default layout); partition is reserved and not a business key", seg))
		}
		if !partValue.MatchString(v) {
			why := "characters outside [0-9a-zA-Z_-]"
			if strings.Contains(v, ":") {
				why = "':' (MSCK REPAIR TABLE silently skips such partitions)"
			}
			rep.add(violation("L16", key, "", "partition value %q in folder %q contains %s", v, seg, why))
		}
		if i >= len(want) {
			continue
		}
		switch {
		case k != want[i] && strings.EqualFold(k, want[i]):
			l01 = append(l01, fmt.Sprintf("partition key %q must be lowercase %q", k, want[i]))
		case k != want[i]:
			l01 = append(l01, fmt.Sprintf("folder level %d has key %q, the contract needs %q", i+1, k, want[i]))
		case i == 0:
			if _, err := time.Parse(time.DateOnly, v); err != nil {
				l01 = append(l01, fmt.Sprintf("dt value %q is not YYYY-MM-DD", v))
			}
		case i == 1:
			if _, ok := hourValue(v); !ok {
				l01 = append(l01, fmt.Sprintf("hour value %q is not 00–23", v))
			}
		}
	}
	if len(l01) > 0 {
		rep.add(violation("L01", key, "", "%s", strings.Join(l01, "; ")))
	}
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
		rep.add(violation("L10", f.key, "", "%d row(s) have event_time outside %s, e.g. %s (offset order)",
			outside, strings.Join(f.folders, "/"), time.UnixMilli(firstOut).UTC().Format(EventTimeLayout)))
	}
	if unparsable > 0 {
		rep.add(violation("L10", f.key, "", "%d row(s) have an event_time that is not %q, e.g. %s, so their partition cannot be checked",
			unparsable, "YYYY-MM-DD HH:MM:SS.mmm", firstRaw))
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
				diffs = append(diffs, "extra column "+c.Name)
			case t != s[c.Name]:
				diffs = append(diffs, fmt.Sprintf("column %s is %s, other files have %s", c.Name, s[c.Name], t))
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

// checkColumns applies L08 and L09 once per offending column name.
func checkColumns(rep *Report, files []*file) {
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
			if s, ok := bad[c.Name]; ok {
				s.n++
				continue
			}
			bad[c.Name] = &seen{first: f.key, n: 1}
			order = append(order, c.Name)
		}
	}
	for _, name := range order {
		s := bad[name]
		where := ""
		if s.n > 1 {
			where = fmt.Sprintf(" (in %d files)", s.n)
		}
		if strings.EqualFold(name, "dt") || strings.EqualFold(name, "hour") {
			rep.add(violation("L09", s.first, "", "partition key %q is also a column inside the files%s; Athena reports duplicate column metadata", name, where))
		}
		var why string
		switch {
		case len(name) > 255:
			why = "is longer than 255 bytes"
		case !columnName.MatchString(name):
			why = "is not lowercase ASCII letters, digits and _ starting with a letter"
		case reservedWords[name]:
			why = "is an Athena reserved word"
		}
		if why != "" {
			rep.add(violation("L08", s.first, "", "column name %q %s%s", name, why, where))
		}
	}
}

// checkJSONFlips applies L07 across files for columns outside the contract
// (contract columns are checked literal by literal while reading).
func checkJSONFlips(rep *Report, files []*file) {
	kinds := map[string]map[string]int{}
	for _, f := range files {
		for col, k := range f.jsonNumbers {
			if doubleColumns[col] || intColumns[col] {
				continue
			}
			if kinds[col] == nil {
				kinds[col] = map[string]int{}
			}
			kinds[col][k]++
		}
	}
	for col, ks := range kinds {
		if len(ks) < 2 {
			continue
		}
		main := majority(ks)
		for _, f := range files {
			if k, ok := f.jsonNumbers[col]; ok && k != main {
				rep.add(violation("L07", f.key, "", "column %s is written as %s here but as %s in most files; the crawler's inferred type flips", col, k, main))
			}
		}
	}
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
			rep.add(violation("L15", k, "", "median object size is %d bytes over %d object(s), below 64 MiB; many small files slow Athena down", med, len(sizes)))
		}
	}
}

// ExpectedColumns is the schema a crawler must infer for a lake of format
// "parquet" or "json". Parquet carries the contract's types. JSON has no
// date or timestamp type, so the crawler infers trade_date and event_time as
// string and every integer as bigint (kafka_partition included); the Athena
// DDL still declares the contract types, which the OpenX SerDe parses from
// those strings.
func ExpectedColumns(format string) []tick.Column {
	cols := append([]tick.Column(nil), tick.Columns...)
	if format != "json" {
		return cols
	}
	for i := range cols {
		switch cols[i].Type {
		case "date", "timestamp":
			cols[i].Type = "string"
		case "int":
			cols[i].Type = "bigint"
		}
	}
	return cols
}
