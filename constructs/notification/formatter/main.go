// Command formatter is the Lambda function behind the readable notifications: it turns each
// pipeline or deployment event that EventBridge hands it into plain text and publishes that to the
// Messages topic, with a subject for email and one short line for SMS.
//
// An EventBridge input transformer cannot do this: a text template is delivered as a JSON string,
// surrounding quotes included ("For strings, quotes are required", EventBridge user guide).
//
// It needs TOPIC_ARN, and AWS_URL_SUFFIX for partitions other than aws. It runs on provided.al2023
// and uses the standard library only (internal/lambdart, internal/awsapi).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"

	"github.com/pipekit/cdk-pipeline/internal/awsapi"
	"github.com/pipekit/cdk-pipeline/internal/lambdart"
)

func main() {
	topic := os.Getenv("TOPIC_ARN")
	client := awsapi.NewClientFromEnv()
	lambdart.Start(func(ctx context.Context, event []byte) error {
		return handle(ctx, client, topic, event)
	})
}

// handle formats one event and publishes it. An event it cannot read is an error: Lambda retries
// the invocation and then keeps the event in the dead-letter queue, where nothing is lost.
func handle(ctx context.Context, client *awsapi.Client, topic string, event []byte) error {
	var e Event
	if err := json.Unmarshal(event, &e); err != nil {
		return fmt.Errorf("reading the event: %w", err)
	}
	m := Format(e)
	// One message per protocol: email gets the subject and the full text, SMS one short line.
	structured, err := json.Marshal(map[string]string{"default": m.Body, "email": m.Body, "sms": m.SMS})
	if err != nil {
		return err
	}
	_, err = client.Query(ctx, "sns", "2010-03-31", "Publish", url.Values{
		"TopicArn": {topic}, "Subject": {m.Subject}, "Message": {string(structured)}, "MessageStructure": {"json"},
	})
	return err
}
