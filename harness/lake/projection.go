package lake

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// projection is a table's partition projection (A partition-projection-*):
// for each partition key, the values Athena generates instead of listing
// partitions, and the folder layout (storage.location.template).
type projection struct {
	keys     []projKey
	template []*regexp.Regexp // one per folder level; nil: Hive key=value folders
	tmplKeys [][]string       // the keys each template level captures
}

type projKey struct {
	name, typ string
	values    []string // enum
	lo, hi    int64    // integer
	digits    int      // integer zero padding
	layout    string   // date: Go layout of projection.<key>.format
	javaFmt   string
	start     time.Time // date range (inclusive)
	end       time.Time
	relStart  bool // the range starts at NOW-…
	interval  int
	unit      string
}

type projectionError struct {
	param, msg string
}

func (e *projectionError) Error() string { return e.param + ": " + e.msg }

// projectionNow is the clock NOW in date ranges is evaluated against.
var projectionNow = time.Now

// parseProjection reads the projection.* parameters of d; nil when
// projection is not enabled.
func parseProjection(d *TableDef) (*projection, error) {
	if !strings.EqualFold(d.Parameters["projection.enabled"], "true") {
		return nil, nil
	}
	pr := &projection{}
	for _, k := range d.PartitionKeys {
		name := strings.ToLower(k.Name)
		param := func(s string) string { return d.Parameters["projection."+name+"."+s] }
		pk := projKey{name: name, typ: strings.ToLower(param("type"))}
		bad := func(s, format string, args ...any) error {
			return &projectionError{param: "projection." + name + "." + s, msg: fmt.Sprintf(format, args...)}
		}
		switch pk.typ {
		case "enum":
			for _, v := range strings.Split(param("values"), ",") {
				if v = strings.TrimSpace(v); v != "" {
					pk.values = append(pk.values, v)
				}
			}
			if len(pk.values) == 0 {
				return nil, bad("values", "an enum projection needs a comma-separated list of values")
			}
		case "integer":
			lo, hi, ok := strings.Cut(param("range"), ",")
			var e1, e2 error
			pk.lo, e1 = strconv.ParseInt(strings.TrimSpace(lo), 10, 64)
			pk.hi, e2 = strconv.ParseInt(strings.TrimSpace(hi), 10, 64)
			if !ok || e1 != nil || e2 != nil || pk.lo > pk.hi {
				return nil, bad("range", "%q is not MIN,MAX integers", param("range"))
			}
			if s := param("digits"); s != "" {
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 || n > 19 {
					return nil, bad("digits", "%q is not a number of digits", s)
				}
				pk.digits = n
			}
			if s := param("interval"); s != "" {
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 {
					return nil, bad("interval", "%q is not a positive integer", s)
				}
				pk.interval = n
			}
		case "date":
			pk.javaFmt = param("format")
			layout, err := javaDateLayout(pk.javaFmt)
			if err != nil {
				return nil, bad("format", "%v", err)
			}
			pk.layout = layout
			pk.unit = "DAYS"
			if strings.Contains(pk.javaFmt, "H") {
				pk.unit = "HOURS"
			}
			if u := strings.ToUpper(param("interval.unit")); u != "" {
				switch u {
				case "YEARS", "MONTHS", "WEEKS", "DAYS", "HOURS", "MINUTES", "SECONDS":
					pk.unit = u
				default:
					return nil, bad("interval.unit", "%q is not YEARS, MONTHS, WEEKS, DAYS, HOURS, MINUTES or SECONDS", u)
				}
			}
			pk.interval = 1
			if s := param("interval"); s != "" {
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 {
					return nil, bad("interval", "%q is not a positive integer", s)
				}
				pk.interval = n
			}
			a, b, ok := strings.Cut(param("range"), ",")
			if !ok {
				return nil, bad("range", "%q is not START,END", param("range"))
			}
			pk.relStart = strings.HasPrefix(strings.ToUpper(strings.TrimSpace(a)), "NOW")
			if pk.start, err = projDate(strings.TrimSpace(a), layout); err != nil {
				return nil, bad("range", "%v", err)
			}
			if pk.end, err = projDate(strings.TrimSpace(b), layout); err != nil {
				return nil, bad("range", "%v", err)
			}
		case "injected":
		case "":
			return nil, bad("type", "missing: every partition key needs a projection type when projection.enabled=true")
		default:
			return nil, bad("type", "%q is not enum, integer, date or injected", pk.typ)
		}
		pr.keys = append(pr.keys, pk)
	}
	if tmpl := d.Parameters["storage.location.template"]; tmpl != "" {
		if err := pr.parseTemplate(d, tmpl); err != nil {
			return nil, err
		}
	}
	return pr, nil
}

var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

func (pr *projection) parseTemplate(d *TableDef, tmpl string) error {
	loc := strings.TrimSuffix(d.Location, "/") + "/"
	rest, ok := strings.CutPrefix(tmpl, loc)
	if d.Location == "" {
		// The built-in table has no location: take the template's path
		// after the table name.
		_, rest, ok = strings.Cut(tmpl, "/"+d.Name+"/")
	}
	if !ok {
		return &projectionError{param: "storage.location.template", msg: fmt.Sprintf("%q does not start with the table location %q", tmpl, loc)}
	}
	for _, seg := range strings.Split(strings.TrimSuffix(rest, "/"), "/") {
		var keys []string
		re := "^"
		last := 0
		for _, m := range placeholder.FindAllStringSubmatchIndex(seg, -1) {
			re += regexp.QuoteMeta(seg[last:m[0]]) + "(.+?)"
			keys = append(keys, strings.ToLower(seg[m[2]:m[3]]))
			last = m[1]
		}
		re += regexp.QuoteMeta(seg[last:]) + "$"
		pr.template = append(pr.template, regexp.MustCompile(re))
		pr.tmplKeys = append(pr.tmplKeys, keys)
	}
	return nil
}

// values reads the partition values of a folder path through the
// template; ok is false when the folders do not have its shape.
func (pr *projection) values(folders []string) (map[string]string, bool) {
	if len(folders) != len(pr.template) {
		return nil, false
	}
	out := map[string]string{}
	for i, re := range pr.template {
		m := re.FindStringSubmatch(folders[i])
		if m == nil {
			return nil, false
		}
		for j, k := range pr.tmplKeys[i] {
			out[k] = m[j+1]
		}
	}
	return out, true
}

func (pr *projection) key(name string) (projKey, bool) {
	for _, k := range pr.keys {
		if k.name == strings.ToLower(name) {
			return k, true
		}
	}
	return projKey{}, false
}

// wellFormed reports whether v parses as a value of the key's type
// (L01's business); reach then says whether projection generates it (L25).
func (k projKey) wellFormed(v string) (string, bool) {
	switch k.typ {
	case "integer":
		if v == "" || strings.Trim(v, "0123456789") != "" {
			return "not a non-negative integer", false
		}
	case "date":
		if _, err := time.Parse(k.layout, v); err != nil {
			return fmt.Sprintf("not a date in format %s (projection.%s.format)", k.javaFmt, k.name), false
		}
	}
	return "", true
}

// reach says why projection never generates v ("" when it does).
func (k projKey) reach(v string) string {
	switch k.typ {
	case "enum":
		for _, e := range k.values {
			if e == v {
				return ""
			}
		}
		return fmt.Sprintf("%q is not in projection.%s.values (%s)", v, k.name, strings.Join(k.values, ","))
	case "integer":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < k.lo || n > k.hi {
			return fmt.Sprintf("%s is outside projection.%s.range %d,%d", v, k.name, k.lo, k.hi)
		}
		if k.interval > 1 && (n-k.lo)%int64(k.interval) != 0 {
			return fmt.Sprintf("%s is not on projection.%s.interval %d from %d", v, k.name, k.interval, k.lo)
		}
		want := strconv.FormatInt(n, 10)
		if k.digits > len(want) {
			want = strings.Repeat("0", k.digits-len(want)) + want
		}
		if v != want {
			return fmt.Sprintf("projection writes this value as %q, not %q (projection.%s.digits)", want, v, k.name)
		}
	case "date":
		t, err := time.Parse(k.layout, v)
		if err != nil {
			return "unparsable"
		}
		if t.Format(k.layout) != v {
			return fmt.Sprintf("projection writes this date as %q, not %q", t.Format(k.layout), v)
		}
		if t.Before(k.start) || t.After(k.end) {
			return fmt.Sprintf("%s is outside projection.%s.range (%s to %s)", v, k.name, k.start.Format(k.layout), k.end.Format(k.layout))
		}
		if k.interval > 1 && k.unit == "DAYS" && int(t.Sub(k.start).Hours()/24)%k.interval != 0 {
			return fmt.Sprintf("%s is not on the %d-day interval from %s", v, k.interval, k.start.Format(k.layout))
		}
	}
	return ""
}

// javaDateLayout turns a Java DateTimeFormatter pattern into a Go layout.
func javaDateLayout(f string) (string, error) {
	if f == "" {
		return "", fmt.Errorf("missing: a date projection needs a format such as yyyy-MM-dd")
	}
	var b strings.Builder
	for i := 0; i < len(f); {
		c := f[i]
		j := i
		for j < len(f) && f[j] == c {
			j++
		}
		run := f[i:j]
		switch {
		case c == '\'':
			k := strings.IndexByte(f[i+1:], '\'')
			if k < 0 {
				return "", fmt.Errorf("format %q has an unterminated quote", f)
			}
			b.WriteString(f[i+1 : i+1+k])
			j = i + k + 2
		case run == "yyyy" || run == "uuuu":
			b.WriteString("2006")
		case run == "yy":
			b.WriteString("06")
		case run == "MM":
			b.WriteString("01")
		case run == "dd":
			b.WriteString("02")
		case run == "HH":
			b.WriteString("15")
		case run == "mm":
			b.WriteString("04")
		case run == "ss":
			b.WriteString("05")
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			return "", fmt.Errorf("format %q: pattern %q is not supported by the checker (use y, M, d, H, m, s)", f, run)
		default:
			b.WriteString(run)
		}
		i = j
	}
	return b.String(), nil
}

var relDate = regexp.MustCompile(`^NOW(?:\s*([+-])\s*(\d+)\s*(YEARS?|MONTHS?|WEEKS?|DAYS?|HOURS?|MINUTES?|SECONDS?))?$`)

// projDate reads one end of a date range: a date in the format, or
// NOW[+-N UNIT].
func projDate(s, layout string) (time.Time, error) {
	if m := relDate.FindStringSubmatch(strings.ToUpper(s)); m != nil {
		t := projectionNow().UTC()
		if m[1] != "" {
			n, _ := strconv.Atoi(m[2])
			if m[1] == "-" {
				n = -n
			}
			switch strings.TrimSuffix(m[3], "S") {
			case "YEAR":
				t = t.AddDate(n, 0, 0)
			case "MONTH":
				t = t.AddDate(0, n, 0)
			case "WEEK":
				t = t.AddDate(0, 0, 7*n)
			case "DAY":
				t = t.AddDate(0, 0, n)
			case "HOUR":
				t = t.Add(time.Duration(n) * time.Hour)
			case "MINUTE":
				t = t.Add(time.Duration(n) * time.Minute)
			case "SECOND":
				t = t.Add(time.Duration(n) * time.Second)
			}
		}
		return t, nil
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date in the projection's format nor NOW[+-N UNIT]", s)
	}
	return t, nil
}

// checkProjection applies L25 (folders partition projection never
// generates: their rows are invisible, with no error) and, in production
// mode, L26 (enum values with no folder, or an absolute date range that
// starts long before the first folder: empty work for every query).
func checkProjection(rep *Report, files []*file, def *TableDef, proj *projection, production bool) {
	type folder struct {
		key   string
		vals  map[string]string
		rows  int64
		files int
	}
	byKey := map[string]*folder{}
	var order []string
	for _, f := range files {
		if !f.isData() || len(f.folders) == 0 {
			continue
		}
		var vals map[string]string
		if proj.template != nil {
			v, ok := proj.values(f.folders)
			if !ok {
				continue
			}
			vals = v
		} else {
			if len(f.folders) != len(def.PartitionKeys) {
				continue
			}
			vals = map[string]string{}
			for i, seg := range f.folders {
				k, v, ok := parsePartition(seg)
				if !ok || k != strings.ToLower(def.PartitionKeys[i].Name) {
					vals = nil
					break
				}
				vals[k] = v
			}
			if vals == nil {
				continue
			}
		}
		fk := folderKey(rep.Location, f.folders)
		fo := byKey[fk]
		if fo == nil {
			fo = &folder{key: fk, vals: vals}
			byKey[fk] = fo
			order = append(order, fk)
		}
		fo.rows += f.rows
		fo.files++
	}
	sort.Strings(order)
	seen := map[string]map[string]bool{}
	for _, fk := range order {
		fo := byKey[fk]
		var why []string
		for _, pk := range proj.keys {
			v, ok := fo.vals[pk.name]
			if !ok {
				continue
			}
			if seen[pk.name] == nil {
				seen[pk.name] = map[string]bool{}
			}
			seen[pk.name][v] = true
			if _, ok := pk.wellFormed(v); !ok {
				why = nil // L01's business
				break
			}
			if w := pk.reach(v); w != "" {
				why = append(why, w)
			}
		}
		if len(why) > 0 {
			rep.add(violation("L25", fk, "", "partition projection never generates this folder (%s): Athena never reads its %s in %s, with no error",
				strings.Join(why, "; "), plural(fo.rows, "row", ""), plural(fo.files, "file", "")))
		}
	}
	if !production {
		return
	}
	for _, pk := range proj.keys {
		switch pk.typ {
		case "enum":
			var empty []string
			for _, v := range pk.values {
				if !seen[pk.name][v] {
					empty = append(empty, v)
				}
			}
			if len(empty) > 0 {
				rep.add(violation("L26", rep.Location, "", "projection.%s.values lists %s, which no folder has: every query without a %s filter reads empty prefixes", pk.name, strings.Join(empty, ","), pk.name))
			}
		case "date":
			var first time.Time
			for v := range seen[pk.name] {
				if t, err := time.Parse(pk.layout, v); err == nil && (first.IsZero() || t.Before(first)) {
					first = t
				}
			}
			// A relative start (NOW-3YEARS) is a rolling window: empty days
			// before the first folder are expected there.
			if !first.IsZero() && !pk.relStart && first.Sub(pk.start) > 24*time.Hour {
				rep.add(violation("L26", rep.Location, "", "projection.%s.range starts %s but the first folder is %s: queries without a %s filter list %s first",
					pk.name, pk.start.Format(pk.layout), first.Format(pk.layout), pk.name, plural(int64(first.Sub(pk.start).Hours()/24), "empty day", "")))
			}
		}
	}
}
