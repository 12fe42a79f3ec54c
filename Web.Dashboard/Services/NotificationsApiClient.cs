using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Components.Authorization;
using Web.Dashboard.Security;

namespace Web.Dashboard.Services;

/// <summary>
/// The dashboard's only way to the data: the Api, found by service discovery. Every call is made
/// as the signed-in staff member (see <see cref="StaffTokenHandler"/>) and comes back as an
/// <see cref="ApiResult{T}"/>: a 5xx, a refused connection or a timeout is an error to show, not an exception.
/// </summary>
public sealed class NotificationsApiClient(HttpClient http, AuthenticationStateProvider authentication, ILogger<NotificationsApiClient> logger)
{
    /// <summary>The batches page shows this many, newest first.</summary>
    public const int MaxBatchesListed = 100;

    private static readonly JsonSerializerOptions s_json = JsonSerializerOptions.Web;

    public Task<ApiResult<QueueStats>> GetQueueStatsAsync(CancellationToken cancellationToken) =>
        GetAsync<QueueStats>("/api/monitoring/queue", cancellationToken);

    public Task<ApiResult<CacheStats>> GetCacheStatsAsync(CancellationToken cancellationToken) =>
        GetAsync<CacheStats>("/api/monitoring/cache", cancellationToken);

    public Task<ApiResult<SystemMetrics>> GetSystemMetricsAsync(CancellationToken cancellationToken) =>
        GetAsync<SystemMetrics>("/api/monitoring/system", cancellationToken);

    public Task<ApiResult<IReadOnlyList<ThresholdAlert>>> GetAlertsAsync(CancellationToken cancellationToken) =>
        GetAsync<IReadOnlyList<ThresholdAlert>>("/api/monitoring/alerts", cancellationToken);

    /// <summary>The health report answers 503 with the same body when a dependency fails; that body is what we show.</summary>
    public Task<ApiResult<DependencyHealth>> GetHealthAsync(CancellationToken cancellationToken) =>
        SendAsync<DependencyHealth>(HttpMethod.Get, "/api/monitoring/health", cancellationToken, readBodyOf: HttpStatusCode.ServiceUnavailable);

    public Task<ApiResult<DeadLetterPage>> GetDeadLettersAsync(DeadLetterQuery query, CancellationToken cancellationToken) =>
        GetAsync<DeadLetterPage>("/api/dead-letters" + QueryString(
            ("search", query.Search), ("type", query.Type), ("offset", Invariant(query.Offset)), ("limit", Invariant(query.Limit))), cancellationToken);

    public Task<ApiResult<DeadLetter>> GetDeadLetterAsync(string id, CancellationToken cancellationToken) =>
        GetAsync<DeadLetter>("/api/dead-letters/" + Uri.EscapeDataString(id), cancellationToken);

    public Task<ApiResult<bool>> RetryDeadLetterAsync(string id, CancellationToken cancellationToken) =>
        SendWithoutBodyAsync(HttpMethod.Post, "/api/dead-letters/" + Uri.EscapeDataString(id) + "/retry", cancellationToken);

    /// <param name="seen">How many dead letters the operator saw: the Api acts only while that is still the number.</param>
    public Task<ApiResult<bool>> RetryAllDeadLettersAsync(int seen, CancellationToken cancellationToken) =>
        SendWithoutBodyAsync(HttpMethod.Post, "/api/dead-letters/retry-all", cancellationToken, JsonContent.Create(new { confirm = seen }));

    public Task<ApiResult<bool>> DeleteDeadLetterAsync(string id, CancellationToken cancellationToken) =>
        SendWithoutBodyAsync(HttpMethod.Delete, "/api/dead-letters/" + Uri.EscapeDataString(id), cancellationToken);

    public Task<ApiResult<bool>> DeleteAllDeadLettersAsync(int seen, CancellationToken cancellationToken) =>
        SendWithoutBodyAsync(HttpMethod.Post, "/api/dead-letters/delete-all", cancellationToken, JsonContent.Create(new { confirm = seen }));

    /// <summary>The Api pages its batch list ({items, total}); a plain array is read as well.</summary>
    public async Task<ApiResult<IReadOnlyList<BatchSummary>>> GetBatchesAsync(CancellationToken cancellationToken)
    {
        var answer = await GetAsync<JsonElement>("/api/batches" + QueryString(("pageSize", Invariant(MaxBatchesListed))), cancellationToken);
        if (!answer.Succeeded)
        {
            return ApiResult<IReadOnlyList<BatchSummary>>.Failed(answer.Error!, answer.StatusCode);
        }
        var json = answer.Value;
        try
        {
            var batches = json.ValueKind == JsonValueKind.Array
                ? json.Deserialize<IReadOnlyList<BatchSummary>>(s_json)
                : json.Deserialize<BatchPage>(s_json)?.Items;
            return batches is null
                ? ApiResult<IReadOnlyList<BatchSummary>>.Failed("The Api answered /api/batches without a list of batches.")
                : ApiResult<IReadOnlyList<BatchSummary>>.Ok(batches);
        }
        catch (JsonException ex)
        {
            return ApiResult<IReadOnlyList<BatchSummary>>.Failed($"The Api's answer to /api/batches could not be read: {ex.Message}");
        }
    }

    public Task<ApiResult<BatchDetail>> GetBatchAsync(string id, CancellationToken cancellationToken) =>
        GetAsync<BatchDetail>("/api/batches/" + Uri.EscapeDataString(id), cancellationToken);

    public Task<ApiResult<DeliveryPage>> GetDeliveriesAsync(DeliveryQuery query, CancellationToken cancellationToken) =>
        GetAsync<DeliveryPage>("/api/notifications" + QueryString(
            ("batchId", query.BatchId), ("recipient", query.Recipient), ("status", query.Status),
            ("page", Invariant(query.Page)), ("pageSize", Invariant(query.PageSize))), cancellationToken);

    public Task<ApiResult<SmsUsage>> GetSmsUsageAsync(CancellationToken cancellationToken) =>
        GetAsync<SmsUsage>("/api/monitoring/sms-usage", cancellationToken);

    public Task<ApiResult<SuppressionPage>> GetSuppressionsAsync(string? search, int page, CancellationToken cancellationToken) =>
        GetAsync<SuppressionPage>("/api/suppressions" + QueryString(("search", search), ("page", Invariant(page)), ("pageSize", "50")), cancellationToken);

    public Task<ApiResult<SuppressionAuditPage>> GetSuppressionAuditAsync(CancellationToken cancellationToken) =>
        GetAsync<SuppressionAuditPage>("/api/suppressions/audit" + QueryString(("pageSize", "20")), cancellationToken);

    /// <summary>Lifts a suppression as the signed-in staff member, who the Api's audit trail then names.</summary>
    public Task<ApiResult<bool>> LiftSuppressionAsync(string channel, string address, string? note, CancellationToken cancellationToken) =>
        SendWithoutBodyAsync(HttpMethod.Post, $"/api/suppressions/{Uri.EscapeDataString(channel.ToLowerInvariant())}/{Uri.EscapeDataString(address)}/lift",
            cancellationToken, JsonContent.Create(new { note }));

    public Task<ApiResult<OutboxPage>> GetOutboxAsync(int offset, int limit, CancellationToken cancellationToken) =>
        GetAsync<OutboxPage>("/api/outbox" + QueryString(("offset", Invariant(offset)), ("limit", Invariant(limit))), cancellationToken);

    private Task<ApiResult<T>> GetAsync<T>(string path, CancellationToken cancellationToken) =>
        SendAsync<T>(HttpMethod.Get, path, cancellationToken);

    private async Task<ApiResult<T>> SendAsync<T>(HttpMethod method, string path, CancellationToken cancellationToken, HttpStatusCode? readBodyOf = null)
    {
        var outcome = await SendCoreAsync(method, path, cancellationToken, null, async (response, ct) =>
        {
            if (!response.IsSuccessStatusCode && response.StatusCode != readBodyOf)
            {
                return ApiResult<T>.Failed(await DescribeFailureAsync(response, path, ct), (int)response.StatusCode);
            }
            var value = await response.Content.ReadFromJsonAsync<T>(s_json, ct);
            return value is null
                ? ApiResult<T>.Failed($"The Api answered {path} with an empty body.", (int)response.StatusCode)
                : ApiResult<T>.Ok(value);
        });
        return outcome;
    }

    /// <summary>A request whose answer has no body we read; <paramref name="content"/> is what it sends, if anything.</summary>
    private Task<ApiResult<bool>> SendWithoutBodyAsync(HttpMethod method, string path, CancellationToken cancellationToken, HttpContent? content = null) =>
        SendCoreAsync(method, path, cancellationToken, content, async (response, ct) =>
            response.IsSuccessStatusCode
                ? ApiResult<bool>.Ok(true)
                : ApiResult<bool>.Failed(await DescribeFailureAsync(response, path, ct), (int)response.StatusCode));

    private async Task<ApiResult<T>> SendCoreAsync<T>(
        HttpMethod method, string path, CancellationToken cancellationToken, HttpContent? content,
        Func<HttpResponseMessage, CancellationToken, Task<ApiResult<T>>> read)
    {
        var state = await authentication.GetAuthenticationStateAsync();
        var userName = state.User.Identity is { IsAuthenticated: true, Name: { Length: > 0 } name } ? name : null;
        if (userName is null)
        {
            return ApiResult<T>.Failed("Sign in to see this.", (int)HttpStatusCode.Unauthorized);
        }

        try
        {
            using var request = new HttpRequestMessage(method, path) { Content = content };
            request.Options.Set(StaffTokenHandler.StaffUserName, userName);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            return await read(response, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            logger.LogWarning(ex, "The Api could not be reached for {Method} {Path}", method, path);
            return ApiResult<T>.Failed($"The Api could not be reached: {ex.Message}");
        }
        catch (Exception ex) when (ex is TaskCanceledException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "The Api did not answer {Method} {Path} in time", method, path);
            return ApiResult<T>.Failed("The Api did not answer in time.");
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException)
        {
            logger.LogWarning(ex, "The Api's answer to {Method} {Path} could not be read", method, path);
            return ApiResult<T>.Failed($"The Api's answer to {path} could not be read: {ex.Message}");
        }
    }

    private static async Task<string> DescribeFailureAsync(HttpResponseMessage response, string path, CancellationToken cancellationToken)
    {
        var description = $"The Api answered {(int)response.StatusCode} {response.ReasonPhrase} to {response.RequestMessage?.Method} {path}.";
        // ProblemDetails carry a human-readable title or detail; show it when there is one.
        if (response.Content.Headers.ContentType?.MediaType is "application/problem+json" or "application/json")
        {
            try
            {
                var problem = await response.Content.ReadFromJsonAsync<ProblemSummary>(s_json, cancellationToken);
                var text = problem?.Detail ?? problem?.Title;
                if (!string.IsNullOrWhiteSpace(text))
                {
                    description += " " + text;
                }
            }
            catch (JsonException)
            {
                // The status code alone still says what went wrong.
            }
        }
        return description;
    }

    private static string Invariant(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string QueryString(params (string Name, string? Value)[] parameters)
    {
        var present = parameters.Where(p => !string.IsNullOrWhiteSpace(p.Value))
            .Select(p => Uri.EscapeDataString(p.Name) + "=" + Uri.EscapeDataString(p.Value!.Trim()))
            .ToArray();
        return present.Length == 0 ? "" : "?" + string.Join('&', present);
    }

    private sealed record ProblemSummary(string? Title, string? Detail);
}
