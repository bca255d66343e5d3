import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SLACore

/// POSTs notifications to one webhook endpoint with AsyncHTTPClient.
public struct WebhookDeliverer: Deliverer {
    /// The endpoint.
    public let endpoint: WebhookEndpoint
    private let client: HTTPClient
    private let now: @Sendable () -> Int64

    /// A deliverer to `endpoint` over `client` (shared by every endpoint); `now` is wall-clock ms.
    public init(endpoint: WebhookEndpoint, client: HTTPClient, now: @escaping @Sendable () -> Int64) {
        self.endpoint = endpoint
        self.client = client
        self.now = now
    }

    /// The endpoint's name.
    public var sink: String { endpoint.name }
    /// The endpoint's concurrency limit.
    public var maxConcurrency: Int { endpoint.maxConcurrency }
    /// The endpoint's backoff.
    public var retry: RetryPolicy { endpoint.retry }
    /// The endpoint's maximum age.
    public var maxAgeMilliseconds: Int64 { endpoint.maxAgeMilliseconds }

    /// Why the endpoint's own filters exclude `n`.
    public func refusal(_ n: SLANotification) -> String? {
        if let kinds = endpoint.kinds, !kinds.contains(n.kind) {
            return "endpoint \(endpoint.name) takes kinds \(kinds.map(\.rawValue).sorted().joined(separator: ", "))"
        }
        if let contracts = endpoint.contracts, !contracts.contains(n.contract) {
            return "endpoint \(endpoint.name) takes contracts \(contracts.sorted().joined(separator: ", "))"
        }
        return nil
    }

    /// Sends every delivery at once (the worker keeps it within the concurrency limit)
    /// and waits for all answers; 2xx is delivered, anything else is a failed attempt.
    public func attempt(_ deliveries: [PendingDelivery]) -> [Result<Void, DeliveryError>] {
        let timestamp = now() / 1000
        let futures: [Result<EventLoopFuture<HTTPClient.Response>, DeliveryError>] = deliveries.map { d in
            let request = WebhookRequest(d.notification, for: endpoint, timestamp: timestamp)
            var headers = HTTPHeaders()
            for (name, value) in request.headers { headers.add(name: name, value: value) }
            do {
                let r = try HTTPClient.Request(
                    url: endpoint.url, method: .POST, headers: headers, body: .bytes(request.body))
                return .success(
                    client.execute(
                        request: r, deadline: .now() + .milliseconds(endpoint.timeoutMilliseconds)))
            } catch {
                return .failure(DeliveryError("invalid request: \(redacted(error))"))
            }
        }
        return futures.map { future in
            switch future {
            case .failure(let error): return .failure(error)
            case .success(let f):
                do {
                    let response = try f.wait()
                    guard (200..<300).contains(response.status.code) else {
                        return .failure(DeliveryError("HTTP \(response.status.code)"))
                    }
                    return .success(())
                } catch {
                    return .failure(DeliveryError(redacted(error)))
                }
            }
        }
    }

    /// An error's text without the endpoint URL (chat webhook URLs are themselves secrets).
    func redacted(_ error: any Error) -> String {
        "\(error)".replacingOccurrences(of: endpoint.url, with: "<\(endpoint.name) url>")
    }
}
