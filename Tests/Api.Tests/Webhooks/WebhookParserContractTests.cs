using System.Text.Json;
using Api.Webhooks;
using Notifications.Receipts;
using Notifications.Stores;
using Notifications.Tasks;

namespace Api.Tests.Webhooks;

/// <summary>
/// The webhook parsers against the shapes the providers publish: every well-formed fixture first passes the
/// published schema (<see cref="PublishedShapes"/>), then the parser reads it; every refused one is refused whole.
/// </summary>
public sealed class WebhookParserContractTests
{
    private static readonly DateTimeOffset s_now = new(2026, 12, 3, 7, 0, 0, TimeSpan.Zero);

    /// <summary>A BulkSMS Message as a status report carries it (fields as the published schema names them).</summary>
    internal static string BulkSmsMessage(string id, string statusType, string? subtype = null, string userSuppliedId = "KMNPQRSTVWXYZ0123456",
        string extra = "") =>
        $$"""
        { "id": "{{id}}", "type": "SENT", "from": "+27123456789", "to": "+919876543210", "body": "Welcome Asha",
          "encoding": "TEXT", "numberOfParts": 1, "creditCost": 0.8,
          "submission": { "id": "2-0000000{{id}}", "date": "2026-12-03T06:59:58Z" },
          "status": { "id": "{{statusType}}.{{subtype ?? "null"}}", "type": "{{statusType}}"{{(subtype is null ? "" : $", \"subtype\": \"{subtype}\"")}} },
          "userSuppliedId": "{{userSuppliedId}}"{{extra}} }
        """;

    private static IReadOnlyList<ProviderReport> ParseBulkSms(string payload)
    {
        Assert.Null(PublishedShapes.BulkSmsReportProblem(payload));
        return BulkSmsStatusReports.Parse(JsonDocument.Parse(payload).RootElement, s_now);
    }

    [Theory]
    [InlineData("ACCEPTED", null, DeliveryStatus.Sent)]
    [InlineData("SCHEDULED", null, DeliveryStatus.Sent)]
    [InlineData("SENT", null, DeliveryStatus.Sent)]
    [InlineData("UNKNOWN", null, DeliveryStatus.Sent)]
    [InlineData("DELIVERED", null, DeliveryStatus.Delivered)]
    [InlineData("FAILED", "EXPIRED", DeliveryStatus.Undelivered)]
    [InlineData("FAILED", "HANDSET_ERROR", DeliveryStatus.Undelivered)]
    [InlineData("FAILED", "NOT_SENT", DeliveryStatus.Undelivered)]
    public void BulkSms_EveryPublishedStatus_IsReadAsItsDeliveryStatus_WithoutSuppressing(string type, string? subtype, DeliveryStatus expected)
    {
        var report = Assert.IsType<ReceiptReport>(Assert.Single(ParseBulkSms($"[{BulkSmsMessage("4031238452", type, subtype)}]")));

        Assert.Equal(expected, report.Receipt.Status);
        Assert.Equal(("bulksms", "4031238452", $"4031238452:{type}.{subtype ?? "null"}"), (report.Receipt.Provider, report.Receipt.ProviderMessageId, report.Receipt.ReceiptId));
        Assert.Equal((1, 0.8, SmsEncoding.Gsm7), (report.Receipt.SmsParts, report.Receipt.CreditCost, report.Receipt.SmsEncoding));
        Assert.Equal(s_now, report.Receipt.At);
        Assert.Null(report.SuppressBecause);
        Assert.True(report.SurelyOurs, "a message with our userSuppliedId is ours");
        Assert.Equal(expected == DeliveryStatus.Delivered ? null : $"{type}.{subtype ?? "null"}", report.Receipt.Reason);
    }

    [Fact]
    public void BulkSms_FailedBlocked_SuppressesTheNumber()
    {
        var report = Assert.IsType<ReceiptReport>(Assert.Single(ParseBulkSms($"[{BulkSmsMessage("4031238452", "FAILED", "BLOCKED")}]")));

        Assert.Equal((DeliveryStatus.Undelivered, "FAILED.BLOCKED"), (report.Receipt.Status, report.Receipt.Reason));
        Assert.Equal("BulkSMS reported FAILED.BLOCKED", report.SuppressBecause);
    }

    [Fact]
    public void BulkSms_ReadsEveryMessageOfTheArray_InOrder_AndAMessageWithoutOurIdIsNotSurelyOurs()
    {
        var reports = ParseBulkSms($$"""
            [{{BulkSmsMessage("1", "SENT")}}, {{BulkSmsMessage("1", "DELIVERED")}},
             { "id": "2", "type": "SENT", "to": "+919876543210", "body": "sent from the web site", "status": { "id": "DELIVERED.null", "type": "DELIVERED" } }]
            """).Cast<ReceiptReport>().ToList();

        Assert.Equal(["1:SENT.null", "1:DELIVERED.null", "2:DELIVERED.null"], reports.Select(r => r.Receipt.ReceiptId));
        Assert.False(reports[2].SurelyOurs);
        Assert.Null(reports[2].Receipt.CreditCost);
    }

    [Theory]
    [InlineData("STOP", "replied \"STOP\"")]
    [InlineData("stop please", "replied \"STOP\"")]
    [InlineData("  Unsubscribe ", "replied \"UNSUBSCRIBE\"")]
    [InlineData("STOP.", "replied \"STOP\"")]
    public void BulkSms_AReplyThatOptsOut_SuppressesItsSender(string body, string reason)
    {
        var payload = $$"""[{ "id": "9001", "type": "RECEIVED", "from": "919876543210", "to": "+27123456789", "body": "{{body}}", "status": { "id": "RECEIVED.null", "type": "DELIVERED" } }]""";

        var optOut = Assert.IsType<OptOutReport>(Assert.Single(ParseBulkSms(payload)));

        Assert.Equal((NotificationType.Sms, "919876543210", reason), (optOut.Channel, optOut.Address, optOut.Reason));
    }

    [Fact]
    public void BulkSms_AnOrdinaryReply_IsIgnored()
    {
        var payload = """[{ "id": "9002", "type": "RECEIVED", "from": "919876543210", "to": "+27123456789", "body": "Thank you, got it", "status": { "id": "RECEIVED.null", "type": "DELIVERED" } }]""";

        Assert.IsType<IgnoredReport>(Assert.Single(ParseBulkSms(payload)));
    }

    public static TheoryData<string, string, bool> BulkSmsGarbage => new()
    {
        // payload, the field named, whether the published schema refuses it too
        { "{}", "body", false },
        { "[]", "body", false },
        { "\"DELIVERED\"", "body", false },
        { "[42]", "[0]", true },
        { $"[{BulkSmsMessage("1", "BOUNCED")}]", "[0].status.type", true },
        { $"[{BulkSmsMessage("1", "FAILED", "EXPLODED")}]", "[0].status.subtype", true },
        { """[{ "type": "SENT", "to": "+1", "body": "x", "status": { "id": "DELIVERED.null", "type": "DELIVERED" } }]""", "[0].id", true },
        { """[{ "id": 4031238452, "type": "SENT", "to": "+1", "body": "x", "status": { "id": "DELIVERED.null", "type": "DELIVERED" } }]""", "[0].id", true },
        { """[{ "id": "1", "type": "SENT", "to": "+1", "body": "x" }]""", "[0].status", true },
        { """[{ "id": "1", "type": "SENT", "to": "+1", "body": "x", "status": { "type": "DELIVERED" } }]""", "[0].status.id", true },
        { """[{ "id": "1", "type": "FORWARDED", "to": "+1", "body": "x", "status": { "id": "DELIVERED.null", "type": "DELIVERED" } }]""", "[0].type", true },
        { $"[{BulkSmsMessage("1", "DELIVERED", extra: ", \"creditCost\": -3")}]".Replace("\"creditCost\": 0.8, ", "", StringComparison.Ordinal), "[0].creditCost", false },
        // The first message is fine; the second is not: nothing of the array is read.
        { $"[{BulkSmsMessage("1", "DELIVERED")}, {BulkSmsMessage("2", "LOST")}]", "[1].status.type", true },
        { """[{ "id": "9", "type": "RECEIVED", "from": "DROP TABLE", "to": "+1", "body": "STOP", "status": { "id": "RECEIVED.null", "type": "DELIVERED" } }]""", "[0].from", false },
    };

    [Theory]
    [MemberData(nameof(BulkSmsGarbage))]
    public void BulkSms_APayloadThatCannotBeRead_IsRefusedWhole_NamingTheField(string payload, string field, bool schemaRefusesItToo)
    {
        var error = Assert.Throws<WebhookPayloadException>(() => BulkSmsStatusReports.Parse(JsonDocument.Parse(payload).RootElement, s_now));

        Assert.Equal(field, error.Field);
        if (schemaRefusesItToo)
        {
            Assert.NotNull(PublishedShapes.BulkSmsReportProblem(payload));
        }
    }

    [Fact]
    public void BulkSms_MoreMessagesThanOneReportHolds_AreRefused()
    {
        var payload = "[" + string.Join(",", Enumerable.Range(0, BulkSmsStatusReports.MaxMessages + 1).Select(i => BulkSmsMessage(i.ToString(System.Globalization.CultureInfo.InvariantCulture), "DELIVERED"))) + "]";

        Assert.Equal("body", Assert.Throws<WebhookPayloadException>(() => BulkSmsStatusReports.Parse(JsonDocument.Parse(payload).RootElement, s_now)).Field);
    }

    // Brevo

    /// <summary>A Brevo transactional event as the documentation lists its attributes.</summary>
    internal static string BrevoEvent(string name, string taskId = "01JD4Q5Z8Y6X3W2V1T0S9R8Q7P", long tsEvent = 1_796_281_200, string? reason = null) =>
        $$"""
        { "event": "{{name}}", "email": "asha@example.org", "id": 482, "date": "2026-12-03 08:00:00", "ts": {{tsEvent}},
          "message-id": "<202612030700.12345678901@smtp-relay.mailin.fr>", "ts_event": {{tsEvent}}, "subject": "Welcome to AI-VERSANT",
          "X-Mailin-custom": "task:{{taskId}}", "sending_ip": "185.41.28.109", "ts_epoch": {{tsEvent * 1000}}, "tags": ["welcome"]{{(reason is null ? "" : $", \"reason\": \"{reason}\"")}} }
        """;

    private static ProviderReport ParseBrevo(string payload)
    {
        Assert.Null(PublishedShapes.BrevoEventProblem(payload));
        return BrevoEvents.Parse(JsonDocument.Parse(payload).RootElement);
    }

    [Theory]
    [InlineData("request", DeliveryStatus.Sent, false)]
    [InlineData("delivered", DeliveryStatus.Delivered, false)]
    [InlineData("deferred", DeliveryStatus.Sent, false)]
    [InlineData("soft_bounce", DeliveryStatus.Sent, false)]
    [InlineData("hard_bounce", DeliveryStatus.Bounced, true)]
    [InlineData("invalid_email", DeliveryStatus.Bounced, true)]
    [InlineData("blocked", DeliveryStatus.Undelivered, true)]
    [InlineData("error", DeliveryStatus.Undelivered, false)]
    [InlineData("spam", DeliveryStatus.Complained, true)]
    [InlineData("unsubscribed", DeliveryStatus.Complained, true)]
    public void Brevo_EveryDeliveryEvent_IsReadAsItsStatus_MatchedByTheTaskItNames(string name, DeliveryStatus expected, bool suppresses)
    {
        var report = Assert.IsType<ReceiptReport>(ParseBrevo(BrevoEvent(name, reason: name == "delivered" ? null : "550 5.1.1 user unknown")));

        Assert.Equal(expected, report.Receipt.Status);
        Assert.Equal("01JD4Q5Z8Y6X3W2V1T0S9R8Q7P", report.Receipt.TaskId);
        Assert.Equal("<202612030700.12345678901@smtp-relay.mailin.fr>", report.Receipt.ProviderMessageId);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_796_281_200), report.Receipt.At);
        Assert.Equal($"<202612030700.12345678901@smtp-relay.mailin.fr>:{name}:1796281200", report.Receipt.ReceiptId);
        Assert.Equal(suppresses, report.SuppressBecause is not null);
        Assert.Equal(name == "delivered" ? null : $"{name}: 550 5.1.1 user unknown", report.Receipt.Reason);
        Assert.True(report.SurelyOurs);
    }

    [Theory]
    [InlineData("opened")]
    [InlineData("unique_opened")]
    [InlineData("proxy_open")]
    [InlineData("click")]
    public void Brevo_EngagementEvents_AreIgnored(string name)
    {
        Assert.IsType<IgnoredReport>(ParseBrevo(BrevoEvent(name)));
    }

    [Fact]
    public void Brevo_TheSameEventAtAnotherTime_IsAnotherReceipt_AndAnEventWithoutOurHeaderMatchesByMessageId()
    {
        var first = Assert.IsType<ReceiptReport>(ParseBrevo(BrevoEvent("soft_bounce", tsEvent: 1_796_281_200)));
        var later = Assert.IsType<ReceiptReport>(ParseBrevo(BrevoEvent("soft_bounce", tsEvent: 1_796_284_800)));
        var foreign = Assert.IsType<ReceiptReport>(ParseBrevo(BrevoEvent("delivered").Replace("\"X-Mailin-custom\": \"task:01JD4Q5Z8Y6X3W2V1T0S9R8Q7P\", ", "", StringComparison.Ordinal)));

        Assert.NotEqual(first.Receipt.ReceiptId, later.Receipt.ReceiptId);
        Assert.Null(foreign.Receipt.TaskId);
        Assert.False(foreign.SurelyOurs);
    }

    public static TheoryData<string, string, bool> BrevoGarbage => new()
    {
        { "[]", "body", true },
        { "\"delivered\"", "body", true },
        { BrevoEvent("exploded"), "event", true },
        { BrevoEvent("delivered").Replace("\"event\": \"delivered\"", "\"event\": 7", StringComparison.Ordinal), "event", true },
        { BrevoEvent("delivered").Replace("\"ts_event\": 1796281200", "\"ts_event\": \"yesterday\"", StringComparison.Ordinal), "ts_event", true },
        { BrevoEvent("delivered").Replace("\"ts_event\": 1796281200, ", "", StringComparison.Ordinal), "ts_event", true },
        { BrevoEvent("delivered").Replace("\"ts_event\": 1796281200", "\"ts_event\": -5", StringComparison.Ordinal), "ts_event", false },
        { BrevoEvent("delivered").Replace("\"email\": \"asha@example.org\", ", "", StringComparison.Ordinal), "email", true },
        {
            BrevoEvent("delivered").Replace("\"message-id\": \"<202612030700.12345678901@smtp-relay.mailin.fr>\", ", "", StringComparison.Ordinal)
                .Replace("\"X-Mailin-custom\": \"task:01JD4Q5Z8Y6X3W2V1T0S9R8Q7P\", ", "", StringComparison.Ordinal),
            "message-id", true
        },
    };

    [Theory]
    [MemberData(nameof(BrevoGarbage))]
    public void Brevo_APayloadThatCannotBeRead_IsRefused_NamingTheField(string payload, string field, bool schemaRefusesItToo)
    {
        var error = Assert.Throws<WebhookPayloadException>(() => BrevoEvents.Parse(JsonDocument.Parse(payload).RootElement));

        Assert.Equal(field, error.Field);
        if (schemaRefusesItToo)
        {
            Assert.NotNull(PublishedShapes.BrevoEventProblem(payload));
        }
    }
}
