package main

import (
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tickflow/tickflow/harness/lake"
)

func init() { register(newDDLCmd) }

func newDDLCmd() *cobra.Command {
	var format, location, start, database string
	var glue bool
	var src lakeSource
	cmd := &cobra.Command{
		Use:   "ddl --location s3://bucket/prefix/ [--format parquet|json] [--start-date YYYY-MM-DD | --dir DIR | [--s3-endpoint URL] --bucket B [--prefix P]] [--glue-json]",
		Short: "Print Athena's CREATE EXTERNAL TABLE (partition projection) or the Glue CreateTable input for the lake",
		Long: `ddl prints the Athena DDL for the stock_ticks table under --location (the folder that holds
stock_ticks/), with partition projection on dt (date, from --start-date to NOW) and hour (00–23),
so no crawler or MSCK REPAIR is needed. --glue-json prints the equivalent input for
'aws glue create-table --cli-input-json file://table.json'.

The projection's first day is --start-date, or, when --dir or --bucket names the lake (as for
verify), the lake's first dt= day, so no partition is before the range (rule L25) and no query lists
empty days before the data (L26); with neither it is ` + lake.DefaultStartDate + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if location == "" {
				return usageError("--location s3://bucket/prefix/ is required")
			}
			if format != "parquet" && format != "json" {
				return usageError("--format %q: want parquet or json", format)
			}
			if _, err := time.Parse(time.DateOnly, start); err != nil {
				return usageError("--start-date %q: want a date YYYY-MM-DD", start)
			}
			if src.dir != "" || src.bucket != "" {
				if cmd.Flags().Changed("start-date") {
					return usageError("--start-date and --dir/--bucket: give one (the lake's first day is the default start)")
				}
				st, prefix, err := src.open(cmd.Context())
				if err != nil {
					return err
				}
				if start, err = lake.FirstDay(cmd.Context(), st, prefix); err != nil {
					return usageError("ddl: the projection's start date: %s", strings.TrimPrefix(err.Error(), "lake: "))
				}
			}
			opts := []lake.DDLOption{lake.DDLFormat(format), lake.StartDate(start), lake.Database(database)}
			var out []byte
			var err error
			if glue {
				out, err = lake.GlueTableInput(location, opts...)
			} else {
				var s string
				s, err = lake.DDL(location, opts...)
				out = []byte(s)
			}
			if err != nil {
				// The remaining problems are all about the location.
				return usageError("--%s", strings.TrimPrefix(err.Error(), "lake: "))
			}
			if _, err := cmd.OutOrStdout().Write(out); err != nil {
				return usageError("ddl: %v", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "parquet", "lake file format: parquet or json")
	cmd.Flags().StringVar(&location, "location", "", "s3://bucket/prefix/ — the folder that holds stock_ticks/")
	cmd.Flags().StringVar(&start, "start-date", lake.DefaultStartDate, "first day of projection.dt.range (YYYY-MM-DD); default: the lake's first day with --dir/--bucket")
	cmd.Flags().StringVar(&database, "database", "default", "Glue database (with --glue-json)")
	cmd.Flags().BoolVar(&glue, "glue-json", false, "print the Glue CreateTable input JSON instead of the DDL")
	src.flags(cmd.Flags())
	return cmd
}
