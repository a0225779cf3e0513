package lake

import (
	"fmt"
	"strings"
)

// Fix texts that follow the table. Rules carries the generic fixes written
// for the built-in stock_ticks (its folder layout, its sink's flags); a
// table of the user's own gets the same advice in its own terms: its
// location, its partition keys and their value formats, its SerDe.

// tableFixes returns, per rule ID, the generic fix for def, for the rules
// whose generic text is specific to the built-in table. root is the table
// root under the store (what the report calls Location).
func tableFixes(def *TableDef, proj *projection, root string) map[string]string {
	if def.Source == "" && def.sinkNames {
		return nil // the built-in table: Rules' texts are about it
	}
	keys := make([]string, len(def.PartitionKeys))
	examples := make([]string, len(def.PartitionKeys))
	for i, k := range def.PartitionKeys {
		keys[i] = strings.ToLower(k.Name)
		examples[i] = keys[i] + "=" + partitionPlaceholder(def, proj, k)
	}
	fixes := map[string]string{
		"L05": "write every file of " + def.Name + " with the table's columns and types",
		"L07": "write each value in a form " + jsonReaderFor(def).name + " reads as its column's declared type (see each finding)",
		"L15": "write bigger objects (batch more records per object) or compact the small ones",
		"L22": jsonDateTimeFix(def),
		"C01": fmt.Sprintf("fix the violations above; a default Glue crawler must create exactly one table %s with the columns and partition keys of the definition", sanitize(def.Name)),
	}
	if def.Crawled {
		fixes["L07"] += "; in a crawled table also doubles always with a decimal point or exponent (123.0), integers without one, and no quoted numbers"
	}
	switch {
	case proj != nil && proj.template != nil:
		fixes["L01"] = fmt.Sprintf("write objects only under the folders storage.location.template names (%s)", def.Parameters["storage.location.template"])
	case len(keys) == 0:
		fixes["L01"] = "write objects directly under " + root + ": the table declares no partition keys, so any folder level below it is a mistake"
	default:
		fixes["L01"] = fmt.Sprintf("write objects under %s%s/ (lowercase keys, %s)", root, strings.Join(examples, "/"), keyOrder(keys))
	}
	if len(keys) > 0 {
		fixes["L02"] = fmt.Sprintf("move the object into a %s partition folder or out of the table location", strings.Join(withEq(keys), "/"))
		fixes["L09"] = fmt.Sprintf("drop the partition key columns (%s) from the files; Athena fills them from the folder names", strings.Join(keys, ", "))
		fixes["L16"] = fmt.Sprintf("use partition values made of [0-9a-zA-Z_-] only (%s)", strings.Join(examples, "/"))
	}
	return fixes
}

func withEq(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "="
	}
	return out
}

func keyOrder(keys []string) string {
	if len(keys) == 1 {
		return "one level " + keys[0]
	}
	return strings.Join(keys, " then ")
}

// partitionPlaceholder describes the values a partition key takes: from its
// projection when projected, else from its declared type.
func partitionPlaceholder(def *TableDef, proj *projection, k Column) string {
	if proj != nil {
		if pk, ok := proj.key(k.Name); ok {
			switch pk.typ {
			case "date":
				if pk.javaFmt != "" {
					return pk.javaFmt
				}
			case "integer":
				if pk.digits > 0 {
					return fmt.Sprintf("%0*d…%0*d", pk.digits, pk.lo, pk.digits, pk.hi)
				}
				return fmt.Sprintf("%d…%d", pk.lo, pk.hi)
			case "enum":
				vals := pk.values
				if len(vals) > 3 {
					vals = append(vals[:3:3], "…")
				}
				return strings.Join(vals, "|")
			}
		}
	}
	t := k.htype()
	if t.kind == "date" {
		return "YYYY-MM-DD"
	}
	if _, isInt := t.integer(); isInt {
		return "N"
	}
	return "VALUE"
}

// applyTableFixes replaces the generic fix of every violation that kept it
// by the table's own, and remembers the table's fixes for the report's
// per-rule headings.
func applyTableFixes(rep *Report, fixes map[string]string) {
	rep.fixes = fixes
	for i, v := range rep.Violations {
		if f, ok := fixes[v.Rule]; ok && v.Fix == rulesByID[v.Rule].Fix {
			rep.Violations[i].Fix = f
		}
	}
}

// ruleFix is the generic fix of rule id for the report's table.
func (r *Report) ruleFix(id string) string {
	if f, ok := r.fixes[id]; ok {
		return f
	}
	return rulesByID[id].Fix
}
