// Package verify is the check framework of `kubectl asmfed verify`: each check is a value with
// an ID, requirements and a Run that returns results with hints. Checks never print.
package verify
