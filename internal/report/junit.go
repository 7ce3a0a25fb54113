package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
)

// JUnit writes JUnit XML, which CI systems read: for jitkey test one
// test case per policy test, failed with its message; for validate one
// test case per file, failed by its errors.
type JUnit struct{}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// Output implements Outputter.
func (JUnit) Output(w io.Writer, r *Report) error {
	suite := junitSuite{Name: "jitkey " + r.Command}
	if r.Tests != nil {
		for _, c := range r.Tests.Cases {
			jc := junitCase{Name: c.Name, Classname: c.File, File: c.File, Line: c.Line}
			if c.Failure != "" {
				jc.Failure = &junitFailure{Message: oneLine(c.Failure), Type: "test-failed", Text: c.Failure}
			}
			suite.Cases = append(suite.Cases, jc)
		}
		// Findings that are not a case's own (coverage below the minimum)
		// fail a case of their own, so that the XML agrees with the exit status.
		for _, d := range r.Diagnostics {
			if d.Severity == "error" && d.Code != "test-failed" {
				suite.Cases = append(suite.Cases, junitCase{Name: code(d) + " " + d.Rule, Classname: d.File, File: d.File, Line: line(d.Line),
					Failure: &junitFailure{Message: oneLine(d.Message), Type: code(d), Text: d.String()}})
			}
		}
	} else {
		byFile := map[string][]string{}
		for _, f := range r.Files {
			byFile[f] = nil
		}
		for _, d := range r.Diagnostics {
			if d.Severity == "error" {
				byFile[d.File] = append(byFile[d.File], fmt.Sprintf("%s [%s]", d.String(), code(d)))
			}
		}
		files := make([]string, 0, len(byFile))
		for f := range byFile {
			files = append(files, f)
		}
		sort.Strings(files)
		for _, f := range files {
			jc := junitCase{Name: f, Classname: "validate", File: f}
			if errs := byFile[f]; len(errs) > 0 {
				jc.Failure = &junitFailure{Message: oneLine(errs[0]), Type: "validate", Text: joinLines(errs)}
			}
			suite.Cases = append(suite.Cases, jc)
		}
	}
	suite.Tests = len(suite.Cases)
	for _, c := range suite.Cases {
		if c.Failure != nil {
			suite.Failures++
		}
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{suite}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func joinLines(ls []string) string {
	out := ""
	for i, l := range ls {
		if i > 0 {
			out += "\n"
		}
		out += l
	}
	return out
}
