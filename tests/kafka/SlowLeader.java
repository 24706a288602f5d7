/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * SlowLeader - a consumer group member that holds a rebalance open.
 *
 * Usage: java -cp KAFKA_JARS SlowLeader.java BOOTSTRAP GROUP TOPIC SECONDS
 *
 * It joins GROUP with the cooperative-sticky protocol, subscribes to TOPIC
 * and, once it owns the group alone, prints "ready".  It stays the group's
 * leader; when a second member joins, it prints "holding" as it starts to
 * compute the assignment and sleeps SECONDS before handing it out.  For
 * that long every other member has its JoinGroup answer and waits for its
 * SyncGroup answer: it has joined, but holds no assignment yet.  It prints
 * "assigned" when it hands the assignment out.  The member
 * never commits offsets.  It leaves the group when its standard input
 * closes.
 *
 * librdkafka's members compute no assignment of their own while they
 * follow, so the group's leader is the only place where a test can hold a
 * rebalance in that state on purpose.
 */

import java.io.InputStream;
import java.time.Duration;
import java.util.Collections;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class SlowLeader {
	static volatile long holdMs;

	/* The cooperative-sticky assignor, slow when there are two members. */
	public static class Slow extends CooperativeStickyAssignor {
		@Override
		public GroupAssignment assign(Cluster metadata,
		    GroupSubscription subs) {
			if (subs.groupSubscription().size() > 1) {
				System.out.println("holding");
				System.out.flush();
				try {
					Thread.sleep(holdMs);
				} catch (InterruptedException e) {
					Thread.currentThread().interrupt();
				}
			}
			GroupAssignment a = super.assign(metadata, subs);
			if (subs.groupSubscription().size() > 1) {
				System.out.println("assigned");
				System.out.flush();
			}
			return a;
		}
	}

	public static void main(String[] args) throws Exception {
		if (args.length != 4) {
			System.err.println("usage: SlowLeader BOOTSTRAP GROUP TOPIC SECONDS");
			System.exit(2);
		}
		holdMs = Long.parseLong(args[3]) * 1000;
		Properties p = new Properties();
		p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
		p.put(ConsumerConfig.GROUP_ID_CONFIG, args[1]);
		p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
		    Slow.class.getName());
		p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
		p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
		p.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, "600000");
		p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG,
		    ByteArrayDeserializer.class.getName());
		p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
		    ByteArrayDeserializer.class.getName());

		AtomicBoolean done = new AtomicBoolean(false);
		Thread watch = new Thread(() -> {
			try {
				InputStream in = System.in;
				while (in.read() != -1)
					;
			} catch (Exception e) {
				/* closed */
			}
			done.set(true);
		});
		watch.setDaemon(true);
		watch.start();

		boolean ready = false;
		try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
			c.subscribe(Collections.singletonList(args[2]));
			while (!done.get()) {
				c.poll(Duration.ofMillis(100));
				if (!ready && !c.assignment().isEmpty()) {
					System.out.println("ready");
					System.out.flush();
					ready = true;
				}
			}
		}
	}
}
