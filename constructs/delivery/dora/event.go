package dora

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The event types and states the computation reads: CodePipeline's (user guide, "Monitoring
// CodePipeline events") and CloudWatch's alarm state changes (user guide, "Alarm events and
// EventBridge").
const (
	PipelineSource    = "aws.codepipeline"
	AlarmSource       = "aws.cloudwatch"
	PipelineExecution = "CodePipeline Pipeline Execution State Change"
	StageExecution    = "CodePipeline Stage Execution State Change"
	ActionExecution   = "CodePipeline Action Execution State Change"
	AlarmStateChange  = "CloudWatch Alarm State Change"

	started   = "STARTED"
	succeeded = "SUCCEEDED"
	failed    = "FAILED"
	alarm     = "ALARM"

	// The action categories of a source action, which names the commit, and of a deploy action,
	// whose success is a deployment.
	SourceCategory = "Source"
	DeployCategory = "Deploy"
)

// rollbackTriggers are the execution-trigger types of the executions that a stage rollback starts
// (CodePipeline API reference, ExecutionTrigger).
var rollbackTriggers = []string{"AutomatedRollback", "ManualRollback"}

// Event is what the computation reads of one EventBridge event.
type Event struct {
	// ID is EventBridge's event id, the same in a duplicate delivery.
	ID string
	// DetailType and Source say what kind of event it is.
	DetailType string
	// Source is the service that sent it: PipelineSource or AlarmSource.
	Source string
	// Time is when the change happened.
	Time time.Time

	// Pipeline is the pipeline of CodePipeline's events.
	Pipeline string
	// Execution is the pipeline execution's id.
	Execution string
	// Stage and Action name the stage and the action, for their events.
	Stage string
	// Action is the action's name, for an action's event.
	Action string
	// State is the new state: STARTED, SUCCEEDED, FAILED, ...
	State string
	// Attempt is the pipeline-execution-attempt: a stage an operator retries runs again in the
	// same execution, as another attempt.
	Attempt int
	// Trigger is a pipeline execution's trigger type, in its STARTED event.
	Trigger string
	// Category is an action's category (Source, Build, Deploy, ...).
	Category string
	// ExternalID is, for a source action, the commit it read.
	ExternalID string

	// Alarm is the alarm of CloudWatch's alarm state changes.
	Alarm string
	// AlarmState is its new state: OK, ALARM or INSUFFICIENT_DATA.
	AlarmState string
}

// envelope is EventBridge's event structure; detail depends on the source.
type envelope struct {
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Time       time.Time       `json:"time"`
	Detail     json.RawMessage `json:"detail"`
}

type pipelineDetail struct {
	Pipeline  string `json:"pipeline"`
	Execution string `json:"execution-id"`
	Stage     string `json:"stage"`
	Action    string `json:"action"`
	State     string `json:"state"`
	Attempt   int    `json:"pipeline-execution-attempt"`
	Trigger   struct {
		Type string `json:"trigger-type"`
	} `json:"execution-trigger"`
	Type struct {
		Category string `json:"category"`
	} `json:"type"`
	Result struct {
		ExternalID string `json:"external-execution-id"`
	} `json:"execution-result"`
}

// alarmDetail: state is an object; its timestamp ("2019-10-02T17:04:40.989+0000") is not RFC 3339,
// so the event's own time is used instead.
type alarmDetail struct {
	AlarmName string `json:"alarmName"`
	State     struct {
		Value string `json:"value"`
	} `json:"state"`
}

// ParseEvent reads an event as EventBridge delivers it. An event of another source is returned with
// its envelope only; Apply ignores it.
func ParseEvent(raw []byte) (Event, error) {
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return Event{}, fmt.Errorf("reading the event: %w", err)
	}
	if env.Time.IsZero() || env.DetailType == "" {
		return Event{}, errors.New("reading the event: no time or detail-type: not an EventBridge event")
	}
	e := Event{ID: env.ID, DetailType: env.DetailType, Source: env.Source, Time: env.Time}
	switch env.Source {
	case PipelineSource:
		var d pipelineDetail
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return Event{}, fmt.Errorf("reading the %s event %s: %w", env.DetailType, env.ID, err)
		}
		e.Pipeline, e.Execution, e.Stage, e.Action, e.State = d.Pipeline, d.Execution, d.Stage, d.Action, d.State
		e.Attempt, e.Trigger, e.Category, e.ExternalID = max(d.Attempt, 1), d.Trigger.Type, d.Type.Category, d.Result.ExternalID
	case AlarmSource:
		var d alarmDetail
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return Event{}, fmt.Errorf("reading the %s event %s: %w", env.DetailType, env.ID, err)
		}
		e.Alarm, e.AlarmState = d.AlarmName, d.State.Value
	}
	return e, nil
}
