// Reports request outcomes to sloburn from a Node.js service, with KafkaJS.
//
// One JSON outcome per request, batched as JSON arrays (one Kafka message per flush), keyed by
// service so one service's outcomes stay in order on one partition; acks -1 (all in-sync
// replicas): an acknowledged outcome survives a broker failover.
//
//   SLOBURN_BROKERS=127.0.0.1:9092 SERVICE=my-service node send.js
const { Kafka, logLevel } = require("kafkajs");

async function main() {
  const brokers = process.env.SLOBURN_BROKERS.split(",");
  const service = process.env.SERVICE;
  const kafka = new Kafka({ clientId: service, brokers, logLevel: logLevel.WARN });
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  // In a service these come from the request handler; here: 100 requests, 3 failed.
  const now = Date.now() / 1000;
  const batch = [];
  for (let i = 0; i < 100; i++) {
    const status = i % 33 === 32 ? 503 : 200;
    batch.push({ service, ts: now, status_code: status, latency_ms: 12.5, route: "/pay" });
  }
  await producer.send({
    topic: "sloburn.outcomes",
    acks: -1,
    messages: [{ key: service, value: JSON.stringify(batch) }],
  });
  await producer.disconnect();
  console.log(`sent ${batch.length} outcomes of ${service}`);
}

main().catch((err) => {
  console.error("not acknowledged:", err.message);
  process.exit(1);
});
