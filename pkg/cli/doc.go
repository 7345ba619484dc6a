// Package cli holds the cobra commands of kubectl-asmfed. Each command is an options struct with
// Complete, Validate and Run; Run calls the library packages and prints their results. Data goes
// to stdout, progress and logs to stderr. It talks to APIs only through the packages below it.
package cli
