import AgentLoop

/// An agent event as stored and sent: the contract's JSON with its `sequence`.
enum AgentEventPayload {
    static func text(_ event: AgentEvent, sequence: Int) -> String {
        var body = event.payload
        body["sequence"] = .number(Double(sequence))
        return JSONValue.object(body).jsonText
    }
}
