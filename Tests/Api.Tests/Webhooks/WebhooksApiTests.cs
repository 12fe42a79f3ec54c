using System.Net;
using System.Text;
using Api.Batches;
using Api.Monitoring;
using Api.Students;
using Api.Tests.Infrastructure;
using Api.Webhooks;
using Notifications.Receipts;
using Notifications.Stores;
using Notifications.Tasks;

namespace Api.Tests.Webhooks;

/// <summary>The webhooks as a provider calls them, and what staff then see: timelines, batch progress, suppressions, usage.</summary>
public sealed class WebhooksApiTests
{
    private const string BulkSmsToken = "bulksms-token-0123456789abcdef";
    private const string BrevoToken = "brevo-token-0123456789abcdef";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<ApiTestHost> StartAsync(Action<Dictionary<string, string?>>? configure = null) => ApiTestHost.StartAsync(s =>
    {
        s["Webhooks:BulkSmsToken"] = BulkSmsToken;
        s["Webhooks:BrevoToken"] = BrevoToken;
        configure?.Invoke(s);
    });

    private static StringContent Json(string payload) => new(payload, Encoding.UTF8, "application/json");

    private static Task<HttpResponseMessage> PostBulkSmsAsync(ApiTestHost host, string payload, string token = BulkSmsToken) =>
        host.Anonymous().PostAsync($"/api/webhooks/bulksms/{token}", Json(payload), Ct);

    private static Task<HttpResponseMessage> PostBrevoAsync(ApiTestHost host, string payload) =>
        host.Anonymous().PostAsync($"/api/webhooks/brevo/{BrevoToken}", Json(payload), Ct);

    /// <summary>An SMS the worker has sent through BulkSMS as <paramref name="messageId"/>, as the delivery log has it.</summary>
    private static async Task SentAsync(ApiTestHost host, string taskId, string messageId, string recipient = "+919876543210", string? batchId = null,
        NotificationType channel = NotificationType.Sms, string provider = ProviderNames.BulkSms)
    {
        var log = host.Service<IDeliveryLog>();
        var at = DateTimeOffset.UtcNow.AddMinutes(-1);
        await log.AppendAsync(new DeliveryEvent(taskId, DeliveryStatus.Queued, at, channel, recipient) { BatchId = batchId, SmsParts = channel == NotificationType.Sms ? 1 : null }, Ct);
        await log.AppendAsync(new DeliveryEvent(taskId, DeliveryStatus.Sent, at.AddSeconds(1), channel, recipient)
        {
            Attempt = 1, Provider = provider, ProviderMessageId = messageId,
        }, Ct);
    }

    private static async Task<DeliveryRecord> RecordAsync(ApiTestHost host, string taskId) =>
        await ApiTestHost.ReadAsync<DeliveryRecord>(await host.Staff().GetAsync($"/api/notifications/{taskId}", Ct));

    [Fact]
    public async Task BulkSms_ADeliveryReport_IsStoredOnce_AndShownInTheTimeline()
    {
        await using var host = await StartAsync();
        await SentAsync(host, "t1", "4031238452");
        var report = $"[{WebhookParserContractTests.BulkSmsMessage("4031238452", "DELIVERED")}]";

        var first = await PostBulkSmsAsync(host, report);
        var again = await PostBulkSmsAsync(host, report);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(new ReceiptSummary(1, 0, 0, 0, 0, 0), await ApiTestHost.ReadAsync<ReceiptSummary>(first));
        Assert.Equal(new ReceiptSummary(0, 1, 0, 0, 0, 0), await ApiTestHost.ReadAsync<ReceiptSummary>(again));
        var record = await RecordAsync(host, "t1");
        Assert.Equal(DeliveryStatus.Delivered, record.Status);
        Assert.Single(record.Timeline, e => e.Status == DeliveryStatus.Delivered);
        Assert.Equal((1, 0.8), (record.SmsParts, record.CreditCost));
    }

    [Fact]
    public async Task BulkSms_OutOfOrderReports_LeaveTheMessageDelivered()
    {
        await using var host = await StartAsync();
        await SentAsync(host, "t1", "m1");

        await PostBulkSmsAsync(host, $"[{WebhookParserContractTests.BulkSmsMessage("m1", "DELIVERED")}]");
        var late = await PostBulkSmsAsync(host, $"[{WebhookParserContractTests.BulkSmsMessage("m1", "ACCEPTED")}, {WebhookParserContractTests.BulkSmsMessage("m1", "SENT")}]");

        Assert.Equal(new ReceiptSummary(2, 0, 0, 0, 0, 0), await ApiTestHost.ReadAsync<ReceiptSummary>(late));
        Assert.Equal(DeliveryStatus.Delivered, (await RecordAsync(host, "t1")).Status);
    }

    [Fact]
    public async Task BulkSms_FailedBlocked_SuppressesTheNumber_WhichStaffSeeAndLift_WithAnAuditEntry()
    {
        await using var host = await StartAsync();
        await SentAsync(host, "t1", "m1");

        var response = await PostBulkSmsAsync(host, $"[{WebhookParserContractTests.BulkSmsMessage("m1", "FAILED", "BLOCKED")}]");

        Assert.Equal(new ReceiptSummary(1, 0, 0, 0, 1, 0), await ApiTestHost.ReadAsync<ReceiptSummary>(response));
        var record = await RecordAsync(host, "t1");
        Assert.Equal((DeliveryStatus.Undelivered, "FAILED.BLOCKED"), (record.Status, record.LastError));
        var listed = await ApiTestHost.ReadAsync<PagedList<Suppression>>(await host.Staff().GetAsync("/api/suppressions?search=98765", Ct));
        var suppression = Assert.Single(listed.Items);
        Assert.Equal(("+919876543210", "BulkSMS reported FAILED.BLOCKED", "bulksms", "t1"), (suppression.Address, suppression.Reason, suppression.Source, suppression.TaskId));

        var lift = await host.WithToken(ApiTestHost.Token("staff", "ops-lead")).PostAsync("/api/suppressions/sms/%2B919876543210/lift",
            ApiTestHost.JsonBody(new { note = "the carrier unblocked the number" }), Ct);

        Assert.Equal(HttpStatusCode.OK, lift.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Staff().GetAsync("/api/suppressions/sms/%2B919876543210", Ct)).StatusCode);
        var audit = await ApiTestHost.ReadAsync<PagedList<SuppressionAuditEntry>>(await host.Staff().GetAsync("/api/suppressions/audit?address=%2B919876543210", Ct));
        Assert.Equal([("lifted", "staff:ops-lead", "the carrier unblocked the number"), ("added", "bulksms", "BulkSMS reported FAILED.BLOCKED")],
            audit.Items.Select(e => (e.Action, e.Actor, e.Reason)));
    }

    [Fact]
    public async Task BulkSms_AStopReply_SuppressesItsSender()
    {
        await using var host = await StartAsync();

        var response = await PostBulkSmsAsync(host,
            """[{ "id": "9001", "type": "RECEIVED", "from": "919876543210", "to": "+27123456789", "body": "STOP", "status": { "id": "RECEIVED.null", "type": "DELIVERED" } }]""");

        Assert.Equal(new ReceiptSummary(0, 0, 0, 0, 1, 0), await ApiTestHost.ReadAsync<ReceiptSummary>(response));
        var suppression = await ApiTestHost.ReadAsync<Suppression>(await host.Staff().GetAsync("/api/suppressions/sms/919876543210", Ct));
        Assert.Equal("replied \"STOP\"", suppression.Reason);
    }

    [Fact]
    public async Task BulkSms_AReportForASendNotLoggedYet_AsksForARetry_AndTheRetryStoresIt()
    {
        await using var host = await StartAsync();
        var report = $"[{WebhookParserContractTests.BulkSmsMessage("m-early", "DELIVERED")}]";

        var early = await PostBulkSmsAsync(host, report);

        await ProblemAssert.IsProblemAsync(early, HttpStatusCode.ServiceUnavailable);
        Assert.Equal(TimeSpan.FromSeconds(60), early.Headers.RetryAfter?.Delta);
        Assert.Equal(0, (await host.Service<IDeliveryLog>().QueryAsync(new DeliveryQuery(), new PageRequest(), Ct)).Total);

        await SentAsync(host, "t1", "m-early");
        var retry = await PostBulkSmsAsync(host, report);
        Assert.Equal(new ReceiptSummary(1, 0, 0, 0, 0, 0), await ApiTestHost.ReadAsync<ReceiptSummary>(retry));
    }

    [Fact]
    public async Task BulkSms_AReportForAMessageNotOurs_IsAcknowledged_AndNothingStored()
    {
        await using var host = await StartAsync();

        var response = await PostBulkSmsAsync(host,
            """[{ "id": "77", "type": "SENT", "to": "+919876543210", "body": "sent from the web site", "status": { "id": "DELIVERED.null", "type": "DELIVERED" } }]""");

        Assert.Equal(new ReceiptSummary(0, 0, 1, 0, 0, 0), await ApiTestHost.ReadAsync<ReceiptSummary>(response));
        Assert.Equal(0, (await host.Service<IDeliveryLog>().QueryAsync(new DeliveryQuery(), new PageRequest(), Ct)).Total);
    }

    [Theory]
    [InlineData("wrong-token-0123456789abcdef")]
    [InlineData(BrevoToken)]
    public async Task AWrongToken_Is404_AndNothingIsStored(string token)
    {
        await using var host = await StartAsync();
        await SentAsync(host, "t1", "m1");

        var response = await PostBulkSmsAsync(host, $"[{WebhookParserContractTests.BulkSmsMessage("m1", "FAILED", "BLOCKED")}]", token);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Equal(DeliveryStatus.Sent, (await RecordAsync(host, "t1")).Status);
        Assert.Equal(0, (await host.Service<ISuppressionList>().ListAsync(null, new PageRequest(), Ct)).Total);
    }

    [Fact]
    public async Task AWebhookWithoutAToken_Is404_WhateverIsSent()
    {
        await using var host = await ApiTestHost.StartAsync();

        var response = await host.Anonymous().PostAsync("/api/webhooks/bulksms/anything-at-all-0123456789", Json("[]"), Ct);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Garbage_Is400NamingTheField_AndNothingOfThePayloadIsStored()
    {
        await using var host = await StartAsync();
        await SentAsync(host, "t1", "m1");
        await SentAsync(host, "t2", "m2");

        var response = await PostBulkSmsAsync(host,
            $"[{WebhookParserContractTests.BulkSmsMessage("m1", "FAILED", "BLOCKED")}, {WebhookParserContractTests.BulkSmsMessage("m2", "EVAPORATED")}]");
        var notJson = await PostBulkSmsAsync(host, "[{ \"id\": ");

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("[1].status.type", out _));
        Assert.True((await ProblemAssert.IsProblemAsync(notJson, HttpStatusCode.BadRequest)).GetProperty("errors").TryGetProperty("body", out _));
        Assert.Equal(DeliveryStatus.Sent, (await RecordAsync(host, "t1")).Status);
        Assert.Equal(0, (await host.Service<ISuppressionList>().ListAsync(null, new PageRequest(), Ct)).Total);
    }

    [Fact]
    public async Task APayloadOverTheLimit_Is413_AndOneNotJson_Is415()
    {
        await using var host = await StartAsync(s => s["Webhooks:MaxBodyBytes"] = "2048");
        var big = "[" + string.Join(",", Enumerable.Range(0, 10).Select(i => WebhookParserContractTests.BulkSmsMessage($"m{i}", "DELIVERED"))) + "]";

        await ProblemAssert.IsProblemAsync(await PostBulkSmsAsync(host, big), HttpStatusCode.RequestEntityTooLarge);
        await ProblemAssert.IsProblemAsync(await host.Anonymous().PostAsync($"/api/webhooks/bulksms/{BulkSmsToken}",
            new StringContent("id=1", Encoding.UTF8, "application/x-www-form-urlencoded"), Ct), HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task CallsPastTheRateLimit_Are429_WithRetryAfter()
    {
        await using var host = await StartAsync(s => s["Webhooks:PermitsPerMinute"] = "2");
        await SentAsync(host, "t1", "m1");
        var report = $"[{WebhookParserContractTests.BulkSmsMessage("m1", "DELIVERED")}]";

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            statuses.Add((await PostBulkSmsAsync(host, report)).StatusCode);
        }
        var brevo = await PostBrevoAsync(host, WebhookParserContractTests.BrevoEvent("opened"));

        // Made-up provider names share one window between them, not a limiter each.
        var madeUp = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            madeUp.Add((await host.Anonymous().PostAsync($"/api/webhooks/made-up-{i}/{BulkSmsToken}", Json(report), Ct)).StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
        // Each provider has its own window.
        Assert.Equal(HttpStatusCode.OK, brevo.StatusCode);
        Assert.Equal([HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.TooManyRequests], madeUp);
    }

    [Fact]
    public async Task Brevo_AHardBounce_BouncesTheEmail_AndSuppressesTheAddress_MatchedByTheTaskIdInItsHeader()
    {
        await using var host = await StartAsync();
        const string TaskId = "01JD4Q5Z8Y6X3W2V1T0S9R8Q7P";
        await SentAsync(host, TaskId, "<other-id@relay>", "Asha@Example.org", channel: NotificationType.Email, provider: ProviderNames.Brevo);

        var response = await PostBrevoAsync(host, WebhookParserContractTests.BrevoEvent("hard_bounce", TaskId, reason: "550 5.1.1 user unknown"));
        var opened = await PostBrevoAsync(host, WebhookParserContractTests.BrevoEvent("opened", TaskId));

        Assert.Equal(new ReceiptSummary(1, 0, 0, 0, 1, 0), await ApiTestHost.ReadAsync<ReceiptSummary>(response));
        Assert.Equal(new ReceiptSummary(0, 0, 0, 0, 0, 1), await ApiTestHost.ReadAsync<ReceiptSummary>(opened));
        var record = await RecordAsync(host, TaskId);
        Assert.Equal((DeliveryStatus.Bounced, "hard_bounce: 550 5.1.1 user unknown"), (record.Status, record.LastError));
        var suppression = await ApiTestHost.ReadAsync<Suppression>(await host.Staff().GetAsync("/api/suppressions/email/asha@example.org", Ct));
        Assert.Equal("Brevo reported hard_bounce: 550 5.1.1 user unknown", suppression.Reason);
    }

    [Fact]
    public async Task BatchProgress_CountsDeliveredAndFailed_AndTheSmsPartsAndCredits()
    {
        await using var host = await StartAsync();
        var batch = await ApiTestHost.ReadAsync<Batch>(await host.Staff().PostAsync("/api/batches",
            ApiTestHost.JsonBody(new { name = "Morning", studentIds = Array.Empty<string>() }), Ct));
        await SentAsync(host, "t1", "m1", batchId: batch.Id);
        await SentAsync(host, "t2", "m2", batchId: batch.Id);
        await SentAsync(host, "t3", "m3", batchId: batch.Id);
        await PostBulkSmsAsync(host, $"[{WebhookParserContractTests.BulkSmsMessage("m1", "DELIVERED")}, {WebhookParserContractTests.BulkSmsMessage("m2", "FAILED", "EXPIRED")}]");

        var progress = (await ApiTestHost.ReadAsync<BatchView>(await host.Staff().GetAsync($"/api/batches/{batch.Id}", Ct))).Progress;
        var usage = await ApiTestHost.ReadAsync<MonitoringApi.SmsUsage>(await host.Staff().GetAsync("/api/monitoring/sms-usage", Ct));

        Assert.Equal(new BatchProgress(Sent: 1, Failed: 1, Pending: 0, Total: 3) { Delivered = 1, SmsParts = 3, CreditCost = 1.6 }, progress);
        Assert.Equal((3L, 3L, 1.6), (usage.Messages, usage.Parts, usage.CreditCost));
        Assert.Single(usage.Days);
    }

    public static TheoryData<string, string, HttpStatusCode, string> SuppressionMistakes => new()
    {
        { "POST", """{ "channel": "fax", "address": "a@example.org", "reason": "asked" }""", HttpStatusCode.BadRequest, "channel" },
        { "POST", """{ "channel": "email", "reason": "asked" }""", HttpStatusCode.BadRequest, "address" },
        { "POST", """{ "channel": "email", "address": "a@example.org" }""", HttpStatusCode.BadRequest, "reason" },
        { "POST", """{ "channel": "email", "address": "a@example.org", "reason": "asked" }""", HttpStatusCode.Conflict, "" },
        { "LIFT", "/api/suppressions/sms/%2B15550000000/lift", HttpStatusCode.NotFound, "" },
        { "LIFT", "/api/suppressions/pigeon/someone/lift", HttpStatusCode.BadRequest, "channel" },
        { "GET", "/api/suppressions?pageSize=0", HttpStatusCode.BadRequest, "pageSize" },
    };

    [Theory]
    [MemberData(nameof(SuppressionMistakes))]
    public async Task SuppressionMistakes_AreProblems_AndChangeNothing(string verb, string argument, HttpStatusCode status, string field)
    {
        await using var host = await StartAsync();
        await host.Service<ISuppressionList>().AddAsync(new Suppression(NotificationType.Email, "a@example.org", "asked", DateTimeOffset.UtcNow) { Source = "staff:x" }, Ct);

        var response = verb switch
        {
            "POST" => await host.Staff().PostAsync("/api/suppressions", Json(argument), Ct),
            "LIFT" => await host.Staff().PostAsync(argument, Json("{}"), Ct),
            _ => await host.Staff().GetAsync(argument, Ct),
        };

        var problem = await ProblemAssert.IsProblemAsync(response, status);
        if (field.Length > 0)
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"the problem names {field}");
        }
        var list = host.Service<ISuppressionList>();
        Assert.Equal(1, (await list.ListAsync(null, new PageRequest(), Ct)).Total);
        Assert.Equal(1, (await list.ListAuditAsync(null, null, new PageRequest(), Ct)).Total);
    }

    [Fact]
    public async Task Suppressions_AreForStaffOnly_AndStaffCanAddOneByHand()
    {
        await using var host = await StartAsync();

        var student = await host.Student("s1").GetAsync("/api/suppressions", Ct);
        var anonymous = await host.Anonymous().GetAsync("/api/suppressions", Ct);
        var added = await host.WithToken(ApiTestHost.Token("staff", "ops-2")).PostAsync("/api/suppressions",
            Json("""{ "channel": "Email", "address": " Parent@Example.org ", "reason": "the parent asked by phone" }"""), Ct);

        Assert.Equal(HttpStatusCode.Forbidden, student.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        Assert.Equal("/api/suppressions/email/parent%40example.org", added.Headers.Location?.OriginalString);
        var suppression = await ApiTestHost.ReadAsync<Suppression>(added);
        Assert.Equal(("parent@example.org", "staff:ops-2"), (suppression.Address, suppression.Source));
    }
}
