import HTTPTypes

/// The response headers of content tenants control (preview apps, deployed sites), so that it
/// never acts with the API's origin or reaches into another tenant's preview.
///
/// Path-based previews and `/deployments/…` are served on the API's own host. They carry a
/// `Content-Security-Policy: sandbox` without `allow-same-origin`: the browser gives the page an
/// opaque origin, so its scripts cannot read the API, the interface, its storage, or another
/// path-based preview (a `fetch` there is cross-origin and sends no same-site cookies), and they
/// cannot register a service worker over the host. The app's own CSP, if any, still applies too
/// (every policy is enforced). Host-based previews and `{project_id}.apps.localhost` sites are an
/// origin each and need no sandbox; what they share with their siblings is the site, hence the
/// cookie rules of `UpstreamCookie` and no `Clear-Site-Data` (whose `"cookies"` reaches the whole
/// site, every other tenant's preview grant included).
///
/// The price of the sandbox: in a browser a path-based preview is its document plus what loads
/// without the preview's cookie (requests from an opaque origin are cross-site), so scripts,
/// styles and fetches of its own answer 404. Browsers are given the host-based URL; the path
/// form serves clients that send the key (curl, tests) and pages with everything inline.
enum UserContentHeaders {
    /// What a page on the API's host may do: run scripts, forms, popups (sandboxed too),
    /// dialogs and downloads; never be same-origin with anything.
    static let sandboxPolicy = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"

    /// Headers of an app's answer that never reach the client: whatever the form,
    /// `Clear-Site-Data` (and the obsolete `Set-Cookie2`, which no rule here reads); on the API's
    /// host, also `Service-Worker-Allowed` (a scope over the API).
    static func dropped(_ name: String, form: PreviewTarget.Form) -> Bool {
        switch name.lowercased() {
        case "clear-site-data", "set-cookie2": true
        case "service-worker-allowed": form == .path
        default: false
        }
    }

    /// An app's answer headers as the client gets them: cookies confined (`UpstreamCookie`), and,
    /// for the path form, the sandbox policy added.
    static func fromApp(_ fields: HTTPFields, target: PreviewTarget) -> HTTPFields {
        var headers = HTTPFields()
        for field in fields where !dropped(field.name.canonicalName, form: target.form) {
            if field.name == .setCookie {
                if let value = UpstreamCookie.confined(field.value, to: target) { headers.append(HTTPField(name: .setCookie, value: value)) }
                continue
            }
            headers.append(field)
        }
        if target.form == .path { headers.append(HTTPField(name: .contentSecurityPolicy, value: sandboxPolicy)) }
        return headers
    }
}
