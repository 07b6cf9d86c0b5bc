// Command formatter is the Lambda function behind the readable notifications: it turns each
// pipeline or deployment event that EventBridge hands it into plain text and publishes that to the
// Messages topic, with a subject for email and one short line for SMS.
//
// An EventBridge input transformer cannot do this: a text template is delivered as a JSON string,
// surrounding quotes included ("For strings, quotes are required", EventBridge user guide).
//
// It needs TOPIC_ARN. It runs on provided.al2023 with aws-lambda-go, and publishes with the AWS SDK
// for Go v2, which signs with the function role's credentials, finds the endpoint of the region's
// partition, and retries throttling and server errors with jittered backoff.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

func main() {
	h, err := setup(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(h)
}

// publisher is the SNS call the function makes.
type publisher interface {
	Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// setup is the function's start-up, once per execution environment: the configuration of its
// region and role, the SNS client, and the handler of each event.
func setup(ctx context.Context) (func(context.Context, json.RawMessage) error, error) {
	topic := os.Getenv("TOPIC_ARN")
	if topic == "" {
		return nil, errors.New("TOPIC_ARN is not set")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	client := sns.NewFromConfig(cfg)
	return func(ctx context.Context, event json.RawMessage) error {
		return handle(ctx, client, topic, event)
	}, nil
}

// handle formats one event and publishes it. An event it cannot read is an error: Lambda retries
// the invocation and then keeps the event in the dead-letter queue, where nothing is lost.
func handle(ctx context.Context, client publisher, topic string, event []byte) error {
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
	_, err = client.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(topic), Subject: aws.String(m.Subject),
		Message: aws.String(string(structured)), MessageStructure: aws.String("json"),
	})
	return err
}
