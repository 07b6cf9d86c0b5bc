package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Event is an EventBridge event: the envelope AWS documents, with the detail left as JSON.
type Event = events.EventBridgeEvent

// Message is what people get: Subject and Body by email, SMS by text message.
type Message struct {
	Subject, Body, SMS string
}

// The detail types the stack's rules send.
const (
	pipelineExecution = "CodePipeline Pipeline Execution State Change"
	stageExecution    = "CodePipeline Stage Execution State Change"
	deployment        = "CodeDeploy Deployment State-change Notification"
)

// Format writes the message for an event. Events of other types still get a message that names
// them, with the event's detail, so that a rule added later is never silent.
func Format(e Event) Message {
	when := e.Time.UTC().Format("2006-01-02 15:04:05 UTC")
	where := fmt.Sprintf("Account %s, region %s", e.AccountID, e.Region)
	switch e.DetailType {
	case pipelineExecution, stageExecution:
		var d struct {
			Pipeline    string `json:"pipeline"`
			ExecutionID string `json:"execution-id"`
			Stage       string `json:"stage"`
			State       string `json:"state"`
			Trigger     struct {
				Type   string `json:"trigger-type"`
				Detail string `json:"trigger-detail"`
			} `json:"execution-trigger"`
		}
		_ = json.Unmarshal(e.Detail, &d)
		link := console(e.Region) + "/codesuite/codepipeline/pipelines/" + url.PathEscape(d.Pipeline) +
			"/executions/" + url.PathEscape(d.ExecutionID) + "/timeline?region=" + url.QueryEscape(e.Region)
		what, subject := "execution", "pipeline "+d.Pipeline+" "+d.State
		if d.Stage != "" {
			what, subject = "stage "+d.Stage, "pipeline "+d.Pipeline+" stage "+d.Stage+" "+d.State
		}
		lines := []string{
			fmt.Sprintf("Pipeline %s: %s %s", d.Pipeline, what, d.State),
			"",
			"Execution: " + d.ExecutionID,
		}
		if d.Trigger.Type != "" {
			lines = append(lines, "Started by: "+strings.TrimSpace(d.Trigger.Type+" "+d.Trigger.Detail))
		}
		lines = append(lines, "Time: "+when, where, "", link)
		return Message{
			Subject: subjectLine(subject),
			Body:    strings.Join(lines, "\n") + "\n",
			SMS:     fmt.Sprintf("%s: pipeline %s %s %s", d.State, d.Pipeline, what, short(d.ExecutionID)),
		}
	case deployment:
		var d struct {
			Application     string `json:"application"`
			DeploymentGroup string `json:"deploymentGroup"`
			DeploymentID    string `json:"deploymentId"`
			State           string `json:"state"`
		}
		_ = json.Unmarshal(e.Detail, &d)
		link := console(e.Region) + "/codesuite/codedeploy/deployments/" + url.PathEscape(d.DeploymentID) + "?region=" + url.QueryEscape(e.Region)
		return Message{
			Subject: subjectLine("deployment " + d.DeploymentID + " " + d.State + ": " + d.Application + "/" + d.DeploymentGroup),
			Body: strings.Join([]string{
				fmt.Sprintf("CodeDeploy deployment %s of %s/%s: %s", d.DeploymentID, d.Application, d.DeploymentGroup, d.State),
				"",
				"Time: " + when, where, "", link,
			}, "\n") + "\n",
			SMS: fmt.Sprintf("%s: deployment %s of %s/%s", d.State, d.DeploymentID, d.Application, d.DeploymentGroup),
		}
	default:
		detail, _ := json.MarshalIndent(e.Detail, "", "  ")
		return Message{
			Subject: subjectLine(e.DetailType),
			Body:    fmt.Sprintf("%s (%s)\n\nTime: %s\n%s\n\n%s\n", e.DetailType, e.Source, when, where, detail),
			SMS:     e.DetailType,
		}
	}
}

// console is the AWS console's address for a region, in its partition.
func console(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "https://console.amazonaws.cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "https://console.amazonaws-us-gov.com"
	}
	return "https://" + region + ".console.aws.amazon.com"
}

// subjectLine makes s an SNS email subject: printable ASCII, no line breaks, under 100
// characters, starting with a letter, digit or punctuation mark.
func subjectLine(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= ' ' && r <= '~':
			b.WriteRune(r)
		case r < ' ' || r == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteByte('?')
		}
	}
	out := strings.TrimSpace(b.String())
	if len(out) > 99 {
		out = out[:96] + "..."
	}
	if out == "" {
		out = "Pipeline notification"
	}
	return out
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
