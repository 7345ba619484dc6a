package v1alpha1

import (
	"fmt"
	"strings"
)

// Checked is the result of checking a federation file: the defaulted Federation (nil when the file
// could not be parsed at all), where each field was written, and every problem found.
type Checked struct {
	Federation *Federation
	Source     *SourceMap
	Warnings   ErrorList
	Errors     ErrorList
}

// Err returns the problems as an error, or nil when there are none.
func (c *Checked) Err() error {
	if len(c.Errors) == 0 {
		return nil
	}
	return c.Errors
}

// CheckFile reads, parses, defaults and validates a federation file.
func CheckFile(path string, opts ValidateOptions) (*Checked, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read federation file: %w", err)
	}
	return Check(path, data, opts), nil
}

// Check parses, defaults and validates a federation file given as bytes. Validation runs even when
// parsing found problems, so that the user sees everything at once; a validation problem on a
// field that already failed to parse is dropped, as it would only repeat the first.
func Check(filename string, data []byte, opts ValidateOptions) *Checked {
	return check(filename, data, opts, Parse)
}

// check is Check with the parser given: the fuzz targets pass parse, which lets panics through.
func check(filename string, data []byte, opts ValidateOptions, parse func(string, []byte) (*Federation, *SourceMap, ErrorList)) *Checked {
	f, sm, parseErrs := parse(filename, data)
	c := &Checked{Federation: f, Source: sm, Errors: parseErrs}
	if f == nil {
		return c
	}
	SetDefaults(f)
	warnings, errs := Validate(f, sm, opts)
	c.Warnings = warnings
	for _, e := range errs {
		if !coveredBy(e.Field, parseErrs) {
			c.Errors = append(c.Errors, e)
		}
	}
	c.Errors.Sort()
	return c
}

func coveredBy(field string, errs ErrorList) bool {
	for _, pe := range errs {
		if pe.Field == "" {
			continue
		}
		if field == pe.Field || strings.HasPrefix(field, pe.Field+".") || strings.HasPrefix(field, pe.Field+"[") {
			return true
		}
	}
	return false
}
