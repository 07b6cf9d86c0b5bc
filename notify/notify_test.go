package notify_test

import (
	"fmt"

	"github.com/pipekit/cdk-pipeline/notify"
)

// Which subscribers get readable text, and which the event JSON.
func ExampleProtocol_Readable() {
	for _, p := range notify.Protocols {
		fmt.Println(p, p.Readable())
	}
	// Output:
	// email true
	// email-json false
	// http false
	// https false
	// sqs false
	// lambda false
	// firehose false
	// application false
	// sms true
}
