import Testing

import CeleryProtocol

@Suite struct CeleryQueueTests {
    @Test func priorityKeysForEveryPriority() {
        let expected = [
            "celery", "celery", "celery",
            "celery\u{06}\u{16}3", "celery\u{06}\u{16}3", "celery\u{06}\u{16}3",
            "celery\u{06}\u{16}6", "celery\u{06}\u{16}6", "celery\u{06}\u{16}6",
            "celery\u{06}\u{16}9",
        ]
        for priority in 0...9 {
            #expect(CeleryQueue.listKey(queue: "celery", priority: priority) == expected[priority], "priority \(priority)")
        }
        #expect(Array(CeleryQueue.listKey(queue: "oauth", priority: 5).utf8) == Array("oauth".utf8) + [0x06, 0x16, 0x33])
    }

    @Test func clampsOutOfRangePriorities() {
        #expect(CeleryQueue.listKey(queue: "q", priority: -1) == "q")
        #expect(CeleryQueue.listKey(queue: "q", priority: .min) == "q")
        #expect(CeleryQueue.listKey(queue: "q", priority: 10) == "q\u{06}\u{16}9")
        #expect(CeleryQueue.listKey(queue: "q", priority: .max) == "q\u{06}\u{16}9")
    }

    @Test func fetchOrderIsKombusBRPOPOrder() {
        #expect(
            CeleryQueue.fetchOrder(queues: ["celery", "oauth"])
                == [
                    "celery", "oauth", "celery\u{06}\u{16}3", "oauth\u{06}\u{16}3",
                    "celery\u{06}\u{16}6", "oauth\u{06}\u{16}6", "celery\u{06}\u{16}9", "oauth\u{06}\u{16}9",
                ]
        )
        #expect(CeleryQueue.fetchOrder(queues: []) == [])
        #expect(CeleryQueue.fetchOrder(queues: ["a"], rotation: 5) == ["a", "a\u{06}\u{16}3", "a\u{06}\u{16}6", "a\u{06}\u{16}9"])
    }

    @Test func fetchOrderRotatesRoundRobin() {
        let queues = ["a", "b", "c"]
        #expect(CeleryQueue.fetchOrder(queues: queues, rotation: 1).prefix(3) == ["b", "c", "a"])
        #expect(CeleryQueue.fetchOrder(queues: queues, rotation: 2).prefix(3) == ["c", "a", "b"])
        #expect(CeleryQueue.fetchOrder(queues: queues, rotation: 3) == CeleryQueue.fetchOrder(queues: queues))
        #expect(CeleryQueue.fetchOrder(queues: queues, rotation: -1).prefix(3) == ["c", "a", "b"])
        let rotated = CeleryQueue.fetchOrder(queues: queues, rotation: 1)
        #expect(Array(rotated[3..<6]) == ["b\u{06}\u{16}3", "c\u{06}\u{16}3", "a\u{06}\u{16}3"])
        // kombu's rule: the queue that delivered goes last.
        #expect(CeleryQueue.rotated(["celery", "oauth"], lastUsed: "celery") == ["oauth", "celery"])
        #expect(CeleryQueue.rotated(["a", "b", "c"], lastUsed: "b") == ["a", "c", "b"])
        #expect(CeleryQueue.rotated(["a", "b"], lastUsed: "zzz") == ["a", "b"])
    }

    @Test func queueNameOfListKey() {
        #expect(CeleryQueue.queueName(ofListKey: "oauth\u{06}\u{16}6") == "oauth")
        #expect(CeleryQueue.queueName(ofListKey: "oauth") == "oauth")
        #expect(CeleryQueue.queueName(ofListKey: "oauth\u{06}\u{16}4") == "oauth\u{06}\u{16}4")
    }
}
