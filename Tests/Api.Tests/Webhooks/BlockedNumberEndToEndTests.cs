using System.Net;
using System.Text.Json;
using Api.Tests.Infrastructure;
using Api.Webhooks;
using Notifications.Receipts;
using Notifications.Stores;
using Notifications.Testing;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using WireMock.Types;
using WireMock.Util;
using WireMock;

namespace Api.Tests.Webhooks;

/// <summary>
/// The whole story across the processes: the Api stores a student and their welcome, the worker (its own
/// process, as deployed) texts it through a server that speaks BulkSMS's API, BulkSMS reports the number
/// FAILED.BLOCKED to the Api's webhook, the next SMS to it is not sent, and once staff lift the suppression
/// the one after goes.
/// </summary>
public sealed class BlockedNumberEndToEndTests : IAsyncLifetime
{
    private const string Token = "bulksms-token-0123456789abcdef";
    private const string Phone = "+919876543210";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly WireMockServer _bulkSms = WireMockServer.Start();
    private int _messageIds;

    public ValueTask InitializeAsync()
    {
        // Like BulkSMS: each accepted message gets its own id, and the answer echoes the userSuppliedId.
        _bulkSms.Given(Request.Create().WithPath("/v1/messages").UsingPost()).RespondWith(Response.Create().WithCallback(request =>
        {
            var entry = JsonDocument.Parse(request.Body!).RootElement[0];
            var id = "70" + Interlocked.Increment(ref _messageIds).ToString("D4", System.Globalization.CultureInfo.InvariantCulture);
            var body = JsonSerializer.Serialize(new[]
            {
                new
                {
                    id, type = "SENT", to = entry.GetProperty("to")[0].GetProperty("address").GetString(), body = entry.GetProperty("body").GetString(),
                    status = new { id = "ACCEPTED.null", type = "ACCEPTED" }, userSuppliedId = entry.GetProperty("userSuppliedId").GetString(),
                    numberOfParts = 1, creditCost = 0.8,
                },
            });
            return new ResponseMessage
            {
                StatusCode = 201,
                Headers = new Dictionary<string, WireMockList<string>> { ["Content-Type"] = new("application/json") },
                BodyData = new BodyData { BodyAsString = body, DetectedBodyType = BodyType.String },
            };
        }));
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _bulkSms.Stop();
        _bulkSms.Dispose();
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task ANumberReportedBlocked_GetsNoFurtherSms_UntilStaffLiftTheSuppression()
    {
        await using var api = await ApiTestHost.StartAsync(s => s["Webhooks:BulkSmsToken"] = Token);
        using var worker = WorkerProcess.Start(new Dictionary<string, string>
        {
            ["ConnectionStrings:redis"] = api.Redis.Endpoint,
            ["DocumentStore:Provider"] = "Sqlite",
            ["ConnectionStrings:documents"] = $"Data Source={Path.Combine(api.Directory, "store.db")}",
            ["NotificationQueue:Name"] = api.QueueName,
            ["NotificationQueue:PollInterval"] = "00:00:00.100",
            ["BULKSMS_USERNAME"] = "school",
            ["BULKSMS_PASSWORD"] = "secret",
            ["Sending:BulkSms:BaseUrl"] = _bulkSms.Url + "/v1",
            ["Sending:Outbox:Directory"] = Path.Combine(api.Directory, "worker-outbox"),
        });

        // 1. A student is uploaded: the worker texts the welcome.
        var upload = await api.Staff().PostAsync("/api/students/upload",
            Uploads.Csv($"{Uploads.Header}\nAsha Rao,asha@example.edu,{Phone},R001,"), Ct);
        Assert.Equal(HttpStatusCode.Accepted, upload.StatusCode);
        var welcome = await WaitForSmsAsync(api, 1, DeliveryStatus.Sent, "the welcome SMS is sent");
        Assert.Equal(1, SmsSent());

        // 2. BulkSMS reports the number blocked.
        var report = $"[{WebhookParserContractTests.BulkSmsMessage(welcome.ProviderMessageId!, "FAILED", "BLOCKED")}]";
        var reported = await api.Anonymous().PostAsync($"/api/webhooks/bulksms/{Token}", new StringContent(report, System.Text.Encoding.UTF8, "application/json"), Ct);
        Assert.Equal(new ReceiptSummary(1, 0, 0, 0, 1, 0), await ApiTestHost.ReadAsync<ReceiptSummary>(reported));

        // 3. The next SMS (a batch notice) is not sent: Suppressed, with the reason, and BulkSMS saw no second call.
        var student = await api.Service<IStudentStore>().GetByRollNumberAsync("R001", Ct);
        await CreateBatchAsync(api, "Morning", student.Id);
        var suppressed = await WaitForSmsAsync(api, 2, DeliveryStatus.Suppressed, "the batch notice SMS is suppressed");
        Assert.Contains("FAILED.BLOCKED", suppressed.LastError);
        Assert.Equal(1, SmsSent());

        // 4. Staff lift it; the one after goes.
        var lift = await api.Staff().PostAsync("/api/suppressions/sms/%2B919876543210/lift", ApiTestHost.JsonBody(new { note = "unblocked" }), Ct);
        Assert.Equal(HttpStatusCode.OK, lift.StatusCode);
        await CreateBatchAsync(api, "Evening", student.Id);
        await WaitForSmsAsync(api, 3, DeliveryStatus.Sent, "the next batch notice SMS is sent");
        Assert.Equal(2, SmsSent());
        Assert.False(worker.HasExited);
    }

    private int SmsSent() => _bulkSms.LogEntries.Count(e => e.ResponseMessage?.StatusCode is 201 or "201");

    private static async Task CreateBatchAsync(ApiTestHost api, string name, string studentId)
    {
        var created = await api.Staff().PostAsync("/api/batches", ApiTestHost.JsonBody(new { name, studentIds = new[] { studentId } }), Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
    }

    /// <summary>
    /// Waits until the student's <paramref name="count"/>-th SMS (oldest first) has reached <paramref name="status"/>;
    /// fails with what the log holds if it does not within the wait.
    /// </summary>
    private static async Task<DeliveryRecord> WaitForSmsAsync(ApiTestHost api, int count, DeliveryStatus status, string what)
    {
        var log = api.Service<IDeliveryLog>();
        var deadline = DateTime.UtcNow + s_wait;
        IReadOnlyList<DeliveryRecord> sms = [];
        while (DateTime.UtcNow < deadline)
        {
            sms = [.. (await log.QueryAsync(new DeliveryQuery { Recipient = Phone }, new PageRequest(), Ct)).Items.OrderBy(r => r.CreatedAt).ThenBy(r => r.TaskId)];
            if (sms.Count >= count && sms[count - 1].Status == status)
            {
                return sms[count - 1];
            }
            await Task.Delay(100, Ct);
        }
        Assert.Fail($"Waited {s_wait.TotalSeconds} s for {what}; the log has {string.Join(", ", sms.Select(r => $"{r.TaskId} {r.Status} {r.LastError}"))}.");
        return null!;
    }
}
