// Package v1alpha1 is the federation file format (asmfed.io/v1alpha1, kind Federation): the Go
// types that are its source of truth, a strict parser that reports every problem with its line and
// column, the one place defaults are applied, semantic validation and the JSON Schema generated
// from the types. It imports no API client and does no I/O beyond reading files the user names.
package v1alpha1
