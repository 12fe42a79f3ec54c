using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Web.Dashboard.Tests.Support;

/// <summary>
/// Stands in for the Api at the network boundary: answers by method and path (query ignored) and
/// records what was asked. A path with no answer gets 404, as an Api without that endpoint would.
/// </summary>
public sealed class FakeApi : HttpMessageHandler
{
    private readonly ConcurrentDictionary<string, Func<HttpRequestMessage, HttpResponseMessage>> _answers = new(StringComparer.Ordinal);

    public ConcurrentQueue<HttpRequestMessage> Requests { get; } = new();

    public FakeApi Answer(string method, string path, object body, HttpStatusCode status = HttpStatusCode.OK) =>
        AnswerWith(method, path, _ => new HttpResponseMessage(status) { Content = JsonContent.Create(body, options: JsonSerializerOptions.Web) });

    public FakeApi AnswerStatus(string method, string path, HttpStatusCode status) =>
        AnswerWith(method, path, _ => new HttpResponseMessage(status));

    /// <summary>As when nothing listens on the Api's port.</summary>
    public FakeApi RefuseConnection(string method, string path) =>
        AnswerWith(method, path, _ => throw new HttpRequestException("Connection refused (api:80)", new System.Net.Sockets.SocketException(111)));

    public FakeApi AnswerWith(string method, string path, Func<HttpRequestMessage, HttpResponseMessage> answer)
    {
        _answers[Key(method, path)] = answer;
        return this;
    }

    public int CountOf(string method, string path) => Requests.Count(r => Key(r.Method.Method, r.RequestUri!.AbsolutePath) == Key(method, path));

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Requests.Enqueue(request);
        var answer = _answers.GetValueOrDefault(Key(request.Method.Method, request.RequestUri!.AbsolutePath));
        var response = answer is null ? new HttpResponseMessage(HttpStatusCode.NotFound) : answer(request);
        response.RequestMessage = request;
        return Task.FromResult(response);
    }

    private static string Key(string method, string path) => method.ToUpperInvariant() + " " + path;
}
