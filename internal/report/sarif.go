package report

import (
	"encoding/json"
	"io"
)

// SARIF writes a SARIF 2.1.0 log that GitHub code scanning accepts
// (github/codeql-action/upload-sarif): one run, the finding codes as rules,
// each result with a physical location relative to the repository root.
type SARIF struct {
	Version string // the tool version recorded in the log; "dev" when empty
}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Version        string      `json:"version"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string       `json:"id"`
	ShortDescription     sarifMessage `json:"shortDescription"`
	DefaultConfiguration sarifConfig  `json:"defaultConfiguration"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn"`
	EndLine     int `json:"endLine"`
	EndColumn   int `json:"endColumn"`
}

func sarifLevel(sev string) string {
	switch sev {
	case "error":
		return "error"
	case "warning":
		return "warning"
	}
	return "note"
}

// Output implements Outputter.
func (s SARIF) Output(w io.Writer, r *Report) error {
	version := s.Version
	if version == "" {
		version = "dev"
	}
	rs := rules(r)
	index := map[string]int{}
	driver := sarifDriver{Name: "jitkey", InformationURI: "https://github.com/jitkey/jitkey", Version: version, Rules: []sarifRule{}}
	for i, ru := range rs {
		index[ru.ID] = i
		driver.Rules = append(driver.Rules, sarifRule{ID: ru.ID, ShortDescription: sarifMessage{ru.Description},
			DefaultConfiguration: sarifConfig{sarifLevel(string(ru.Severity))}})
	}
	run := sarifRun{Tool: sarifTool{driver}, Results: []sarifResult{}}
	add := func(id, level, msg, file string, l, c, el, ec int) {
		l, c = line(l), line(c)
		run.Results = append(run.Results, sarifResult{RuleID: id, RuleIndex: index[id], Level: level, Message: sarifMessage{msg},
			Locations: []sarifLocation{{sarifPhysical{sarifArtifact{file, "%SRCROOT%"}, sarifRegion{l, c, end(l, el), end(c, ec)}}}}})
	}
	for _, d := range r.Diagnostics {
		add(code(d), sarifLevel(string(d.Severity)), d.Message, d.File, d.Line, d.Col, d.EndLine, d.EndCol)
	}
	for _, g := range r.Grants {
		add(GrantCode, "note", g.Sentence, g.Pos.File, g.Pos.Line, g.Pos.Col, 0, 0)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}
