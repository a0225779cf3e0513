// Command tickflow runs a Kafka → S3 stock-tick pipeline against an embedded
// fake world (or real Kafka and S3) and checks the lake the way Glue and
// Athena would. Each subcommand lives in its own file and only parses flags,
// calls one library function and prints the result.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes shared by every subcommand.
const (
	exitOK        = 0
	exitViolation = 1 // the check ran and found a problem (lake incomplete, violations, scenario failed)
	exitUsage     = 2 // bad flags or input, or the command could not run
	// exitInterrupted: SIGINT/SIGTERM stopped a command before its job was
	// done (128+SIGINT, as shells report it). Commands that run until
	// stopped (serve, sink) exit 0 on a clean stop instead.
	exitInterrupted = 130
)

// exitError carries an exit code out of a subcommand's RunE.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError reports bad input: exit code 2 with a one-line message.
func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// failError reports a completed check that found problems: exit code 1.
func failError(format string, args ...any) error {
	return &exitError{code: exitViolation, err: fmt.Errorf(format, args...)}
}

// commands registered by each subcommand file's init.
var commands []func() *cobra.Command

func register(f func() *cobra.Command) { commands = append(commands, f) }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "tickflow",
		Short:         "Kafka → S3 stock-tick pipeline with an embedded fake world and a lake contract checker",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionText(),
	}
	root.SetVersionTemplate("{{.Version}}")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError("%v (see '%s --help')", err, c.CommandPath())
	})
	for _, f := range commands {
		root.AddCommand(f())
	}
	return root
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if !errors.Is(err, errSummaryPrinted) {
		fmt.Fprintln(os.Stderr, "tickflow:", err)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// Cobra reports unknown commands and arguments as plain errors: usage.
	return exitUsage
}
