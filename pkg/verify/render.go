package verify

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
)

// marks are the symbols of the text report, as linkerd check prints them.
var marks = map[Status]string{OK: "√", Warn: "‼", Fail: "×", Skipped: "-"}

var colors = map[Status]string{OK: "\x1b[32m", Warn: "\x1b[33m", Fail: "\x1b[31m", Skipped: "\x1b[2m"}

// TextOptions tune the text report.
type TextOptions struct {
	// Color paints the marks; the caller turns it on only for a terminal.
	Color bool
}

// WriteText prints the report for people: each check's ID and name, one line per finding with
// its mark, a hint under every failure and warning, where the docs explain the check when it did
// not pass, and a summary.
func WriteText(w io.Writer, r *Report, opts TextOptions) error {
	paint := func(st Status) string {
		if !opts.Color {
			return marks[st]
		}
		return colors[st] + marks[st] + "\x1b[0m"
	}
	p := &errWriter{w: w}
	i := 0
	for _, c := range r.Checks {
		p.printf("%s %s\n", c.ID, c.Name)
		for ; i < len(r.Results) && r.Results[i].Check == c.ID; i++ {
			f := r.Results[i]
			subject := ""
			if f.Subject != "" {
				subject = f.Subject + ": "
			}
			p.printf("  %s %s%s\n", paint(f.Status), subject, f.Message)
			if f.Hint != "" && (f.Status == Fail || f.Status == Warn) {
				p.printf("      hint: %s\n", f.Hint)
			}
		}
		if c.Status == Fail || c.Status == Warn {
			p.printf("  see %s\n", c.Doc)
		}
	}
	p.printf("\n%s\n", summary(r))
	return p.err
}

// summary is the report's last line: checks failed out of those run (findings failed out of
// those that passed, warned or failed), warnings, and what was skipped.
func summary(r *Report) string {
	c := r.Counts
	return fmt.Sprintf("%d/%d checks failed (%d/%d findings), %s; skipped: %s, %s",
		c.Checks.Fail, c.Checks.Total, c.Fail, c.OK+c.Warn+c.Fail, plural(c.Warn, "warning"),
		plural(c.Checks.Skipped, "check"), plural(c.Skipped, "finding"))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// WriteJSON prints the report as indented JSON: results (each finding with its check, name,
// subject, status, message, hint and doc), checks (each with its status) and counts.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// The JUnit XML format as CI servers read it (Jenkins' junit-10.xsd): one testsuite per check,
// one testcase per finding.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Package    string          `xml:"package,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Type    string `xml:"type,attr,omitempty"`
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit prints the report as JUnit XML for CI: a testsuite per check (named by its ID and
// name, with its group and doc as properties), a testcase per finding (named by its subject and
// message); a failed finding is a failure whose text is the hint and the doc, a skipped one is
// skipped with the reason, a warning passes with the warning in system-out.
func WriteJUnit(w io.Writer, r *Report) error {
	out := junitSuites{Name: "kubectl asmfed verify", Suites: []junitSuite{}}
	i := 0
	for _, c := range r.Checks {
		s := junitSuite{Name: c.ID + " " + c.Name, Package: c.Group,
			Properties: []junitProperty{{Name: "id", Value: c.ID}, {Name: "doc", Value: c.Doc}, {Name: "status", Value: string(c.Status)}}}
		for ; i < len(r.Results) && r.Results[i].Check == c.ID; i++ {
			f := r.Results[i]
			name := f.Message
			if f.Subject != "" {
				name = f.Subject + ": " + f.Message
			}
			tc := junitCase{Name: name, Classname: c.ID}
			switch f.Status {
			case Fail:
				body := "see " + c.Doc
				if f.Hint != "" {
					body = "hint: " + f.Hint + "\n" + body
				}
				tc.Failure = &junitMessage{Type: string(Fail), Message: f.Message, Body: body}
				s.Failures++
			case Skipped:
				tc.Skipped = &junitMessage{Message: f.Message}
				s.Skipped++
			case Warn:
				tc.SystemOut = "warning: " + f.Message
				if f.Hint != "" {
					tc.SystemOut += "\nhint: " + f.Hint
				}
			}
			s.Tests++
			s.Cases = append(s.Cases, tc)
		}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Suites = append(out.Suites, s)
	}
	p := &errWriter{w: w}
	p.printf("%s", xml.Header)
	if p.err != nil {
		return p.err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// errWriter keeps the first write error, so a renderer checks once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
