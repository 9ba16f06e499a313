// Reports request outcomes to sloburn from a Go service, with franz-go.
//
// One JSON outcome per request, batched as JSON arrays (one Kafka message per flush), keyed
// by service so one service's outcomes stay in order on one partition. acks=all (franz-go's
// default) with idempotence: an acknowledged outcome survives a broker failover.
//
//	SLOBURN_BROKERS=127.0.0.1:9092 SERVICE=my-service go run .
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Outcome is sloburn's raw event schema (README, "Sending outcomes").
type Outcome struct {
	Service    string  `json:"service"`
	Ts         float64 `json:"ts"` // event time, unix seconds
	StatusCode int     `json:"status_code"`
	LatencyMs  float64 `json:"latency_ms"`
	Route      string  `json:"route,omitempty"`
}

func main() {
	brokers := strings.Split(os.Getenv("SLOBURN_BROKERS"), ",")
	service := os.Getenv("SERVICE")
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("sloburn.outcomes"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kafka:", err)
		os.Exit(1)
	}
	defer client.Close()

	// In a service these come from the request handler; here: 100 requests, 3 failed.
	batch := make([]Outcome, 0, 100)
	now := float64(time.Now().UnixMilli()) / 1000
	for i := 0; i < 100; i++ {
		status := 200
		if i%33 == 32 {
			status = 503
		}
		batch = append(batch, Outcome{service, now, status, 12.5, "/pay"})
	}
	value, _ := json.Marshal(batch)
	record := &kgo.Record{Key: []byte(service), Value: value}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.ProduceSync(ctx, record).FirstErr(); err != nil {
		fmt.Fprintln(os.Stderr, "not acknowledged:", err)
		os.Exit(1)
	}
	fmt.Printf("sent %d outcomes of %s\n", len(batch), service)
}
