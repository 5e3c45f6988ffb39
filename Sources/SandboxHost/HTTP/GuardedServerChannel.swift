import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// The HTTP server's child channel (`inner`: HTTP/1 with the WebSocket upgrade), with a guard
/// in front: a connection beyond its address's cap (`ConnectionAdmission`) is closed before
/// anything reads it, and an admitted one gets a `HeaderDeadlineHandler`.
struct GuardedServerChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value

    struct Refused: Error {}

    let inner: Inner
    let admission: ConnectionAdmission
    let headerTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let key = ConnectionAdmission.AddressKey(channel.remoteAddress)
        if let key {
            guard admission.admit(key) else {
                // Not yet registered: closing releases the descriptor, and the server goes on
                // accepting (a failed child setup is dropped, not an error of the listener).
                logger.debug("connection refused: too many from this address", metadata: ["address": "\(channel.remoteAddress.map { "\($0)" } ?? "-")"])
                channel.close(promise: nil)
                return channel.eventLoop.makeFailedFuture(Refused())
            }
            let admission = self.admission
            channel.closeFuture.whenComplete { _ in admission.release(key) }
        }
        let timeout = headerTimeout
        return inner.setup(channel: channel, logger: logger).map { value in
            // `value` (Hummingbird's NIOAsyncChannel) must reach `handle`, which finishes it: one
            // dropped unfinished traps in NIOAsyncWriter's deinit and takes the process down. A
            // client that went away during setup (its pipeline already torn down) made the
            // handler lookup throw here and the value was dropped (a crash seen in a light-suite
            // run here, NIOAsyncWriter.swift:177; by its registers, likely CI stop 20's too).
            do {
                let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
                try channel.pipeline.syncOperations.addHandler(HeaderDeadlineHandler(timeout: timeout), position: .after(decoder))
            } catch {
                channel.close(promise: nil)
            }
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
