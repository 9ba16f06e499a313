// Reports request outcomes to sloburn from a Java service, with the Apache Kafka client
// (org.apache.kafka:kafka-clients).
//
// One JSON outcome per request, batched as JSON arrays (one Kafka message per flush), keyed by
// service so one service's outcomes stay in order on one partition; acks=all with idempotence:
// an acknowledged outcome survives a broker failover.
//
//   SLOBURN_BROKERS=127.0.0.1:9092 SERVICE=my-service java -cp 'kafka-libs/*' SendOutcomes.java
import java.util.Locale;
import java.util.Properties;
import java.util.StringJoiner;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

public class SendOutcomes {
  public static void main(String[] args) throws Exception {
    String service = System.getenv("SERVICE");
    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, System.getenv("SLOBURN_BROKERS"));
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    // In a service these come from the request handler; here: 100 requests, 3 failed.
    double now = System.currentTimeMillis() / 1000.0;
    StringJoiner batch = new StringJoiner(",", "[", "]");
    for (int i = 0; i < 100; i++) {
      int status = i % 33 == 32 ? 503 : 200;
      batch.add(String.format(Locale.ROOT,
          "{\"service\":\"%s\",\"ts\":%.3f,\"status_code\":%d,\"latency_ms\":12.5,\"route\":\"/pay\"}",
          service, now, status));
    }
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
      // get(): wait for the broker's acknowledgement; an exception means not acknowledged.
      producer.send(new ProducerRecord<>("sloburn.outcomes", service, batch.toString())).get();
    }
    System.out.println("sent 100 outcomes of " + service);
  }
}
