// Command dora-replay computes a pipeline's delivery metrics from a recorded history, with the same
// code as the delivery function (package dora): the two differ only in where the events come from
// and where the results go. Use it to backfill after a change of definitions, or to see what a
// history measures (docs/metrics.md, "Backfill").
//
// It reads standard input, one JSON value per line, in any order:
//
//   - an EventBridge event as the delivery function's rules deliver it (CodePipeline pipeline, stage
//     and action execution state changes, CloudWatch alarm state changes; an EventBridge replay's
//     copies are fine);
//   - a commit record, {"commit": "<id>", "parents": ["<id>", ...], "committed": "<RFC 3339 time>"},
//     standing for what codecommit:GetCommit answers.
//
// It applies the events in the order they happened and prints one JSON object keyed by deploy
// stage, each with deployments, deploymentDays, failedAttempts, failedDeployments,
// reworkDeployments, the rates, and the lead time and recovery samples in minutes.
//
// Usage:
//
//	dora-replay [-pipeline name] [-stages Deploy-beta,Deploy-prod] [-alarms '{"Deploy-prod":["prod-ServerErrors"]}'] < history.jsonl
//
// Without -pipeline, the one pipeline the events name; without -stages, the stages whose deploy
// actions the events name, in the order they first deployed. Without -alarms, no incidents.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pipekit/cdk-pipeline/constructs/delivery/dora"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// record is a commit record, as the history gives it.
type record struct {
	Commit    string    `json:"commit"`
	Parents   []string  `json:"parents"`
	Committed time.Time `json:"committed"`
}

func run(args []string, in io.Reader, out, errs io.Writer) int {
	fs := flag.NewFlagSet("dora-replay", flag.ContinueOnError)
	fs.SetOutput(errs)
	pipeline := fs.String("pipeline", "", "the pipeline's name (default: the one pipeline the events name)")
	stages := fs.String("stages", "", "the deploy stages, comma-separated (default: the stages whose deploy actions the events name)")
	alarms := fs.String("alarms", "", `each stage's alarms, as JSON: {"Deploy":["alarm-name"]} (default: none)`)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg := dora.Config{Pipeline: *pipeline}
	if *stages != "" {
		cfg.Stages = strings.Split(*stages, ",")
	}
	if *alarms != "" {
		if err := json.Unmarshal([]byte(*alarms), &cfg.Alarms); err != nil {
			fmt.Fprintf(errs, "dora-replay: -alarms is not a JSON object of stage to alarm names: %v\n", err)
			return 2
		}
	}
	events, commits, err := read(in)
	if err == nil {
		err = complete(&cfg, events)
	}
	var totals map[string]*dora.Totals
	if err == nil {
		totals, err = replay(cfg, events, commits)
	}
	if err != nil {
		fmt.Fprintf(errs, "dora-replay: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(totals); err != nil {
		fmt.Fprintf(errs, "dora-replay: %v\n", err)
		return 1
	}
	return 0
}

// read takes the history: events, and commit records.
func read(in io.Reader) ([]dora.Event, dora.CommitMap, error) {
	var events []dora.Event
	commits := dora.CommitMap{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &keys); err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", n, err)
		}
		if _, isEvent := keys["detail-type"]; !isEvent {
			if _, isCommit := keys["commit"]; !isCommit {
				return nil, nil, fmt.Errorf("line %d: neither an EventBridge event nor a commit record", n)
			}
			var r record
			if err := json.Unmarshal([]byte(line), &r); err != nil || r.Commit == "" || r.Committed.IsZero() {
				return nil, nil, fmt.Errorf(`line %d: a commit record is {"commit": "<id>", "parents": [...], "committed": "<RFC 3339 time>"}`, n)
			}
			commits[r.Commit] = dora.Commit{ID: r.Commit, Parents: r.Parents, Committed: r.Committed}
			continue
		}
		e, err := dora.ParseEvent([]byte(line))
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", n, err)
		}
		events = append(events, e)
	}
	return events, commits, sc.Err()
}

// complete fills in the pipeline and the stages the flags left out, from the events.
func complete(cfg *dora.Config, events []dora.Event) error {
	sorted := byTime(events)
	if cfg.Pipeline == "" {
		var names []string
		for _, e := range sorted {
			if e.Source == dora.PipelineSource && e.Pipeline != "" && !slices.Contains(names, e.Pipeline) {
				names = append(names, e.Pipeline)
			}
		}
		switch len(names) {
		case 0:
			return errors.New("no CodePipeline event in the history")
		case 1:
			cfg.Pipeline = names[0]
		default:
			return fmt.Errorf("the history names pipelines %s: choose one with -pipeline", strings.Join(names, ", "))
		}
	}
	if len(cfg.Stages) == 0 {
		for _, e := range sorted {
			if e.Pipeline == cfg.Pipeline && e.DetailType == dora.ActionExecution && e.Category == dora.DeployCategory && !slices.Contains(cfg.Stages, e.Stage) {
				cfg.Stages = append(cfg.Stages, e.Stage)
			}
		}
	}
	return nil
}

// replay applies the events in the order they happened, as the function would have received them.
func replay(cfg dora.Config, events []dora.Event, commits dora.CommitMap) (map[string]*dora.Totals, error) {
	var s dora.State
	var samples []dora.Sample
	for _, e := range byTime(events) {
		got, _, err := s.Apply(context.Background(), e, cfg, commits)
		if err != nil {
			return nil, err
		}
		samples = append(samples, got...)
	}
	return dora.Summarize(cfg.Stages, samples), nil
}

func byTime(events []dora.Event) []dora.Event {
	sorted := slices.Clone(events)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.Before(sorted[j].Time) })
	return sorted
}
