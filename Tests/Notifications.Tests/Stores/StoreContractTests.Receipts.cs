using Notifications.Stores;
using Notifications.Tasks;

namespace Notifications.Tests.Stores;

// Provider receipts, SMS usage and the suppression list: what every store must do.
public abstract partial class StoreContractTests
{
    private static ProviderReceipt Receipt(string messageId, DeliveryStatus status, DateTimeOffset at, string statusId) =>
        new(ProviderNames.BulkSms, $"{messageId}:{statusId}", status, at)
        {
            ProviderMessageId = messageId, Reason = status == DeliveryStatus.Delivered ? null : statusId,
        };

    /// <summary>An SMS task queued, sent through BulkSMS with <paramref name="messageId"/>.</summary>
    private static async Task SentSmsAsync(StoreHarness stores, string taskId, string messageId, string? batchId = null, DateTimeOffset? at = null)
    {
        var queuedAt = at ?? s_day;
        await stores.DeliveryLog.AppendAsync(Event(taskId, DeliveryStatus.Queued, queuedAt, batchId: batchId) with { SmsParts = 1 }, Ct);
        await stores.DeliveryLog.AppendAsync(Event(taskId, DeliveryStatus.Sent, queuedAt.AddSeconds(2)) with
        {
            Attempt = 1, Provider = ProviderNames.BulkSms, ProviderMessageId = messageId,
        }, Ct);
    }

    [Fact]
    public async Task Receipt_IsStoredOnce_AndALateSentNeverUndoesDelivered()
    {
        await using var stores = await StartAsync();
        await SentSmsAsync(stores, "t1", "m1");

        var delivered = await stores.DeliveryLog.RecordReceiptAsync(Receipt("m1", DeliveryStatus.Delivered, s_day.AddSeconds(30), "DELIVERED"), Ct);
        var again = await stores.DeliveryLog.RecordReceiptAsync(Receipt("m1", DeliveryStatus.Delivered, s_day.AddSeconds(90), "DELIVERED"), Ct);
        // BulkSMS's SENT report arrives after its DELIVERED one, with a later time.
        var lateSent = await stores.DeliveryLog.RecordReceiptAsync(Receipt("m1", DeliveryStatus.Sent, s_day.AddSeconds(60), "SENT"), Ct);

        Assert.Equal((ReceiptOutcome.Recorded, "t1"), (delivered.Outcome, delivered.Task?.TaskId));
        Assert.Equal(ReceiptOutcome.Duplicate, again.Outcome);
        Assert.Equal(ReceiptOutcome.Recorded, lateSent.Outcome);
        var record = await stores.DeliveryLog.GetAsync("t1", Ct);
        Assert.Equal(DeliveryStatus.Delivered, record.Status);
        Assert.Null(record.LastError);
        Assert.Equal([DeliveryStatus.Queued, DeliveryStatus.Sent, DeliveryStatus.Delivered, DeliveryStatus.Sent], record.Timeline.Select(e => e.Status));
        Assert.Equal(s_day.AddSeconds(60), record.UpdatedAt);
    }

    [Fact]
    public async Task Receipt_AFailureOutranksAnEarlierDelivery_AndAComplaintOutranksBoth_WhateverTheirTimes()
    {
        await using var stores = await StartAsync();
        await SentSmsAsync(stores, "t1", "m1");

        // The provider's clock is behind ours: its failure is stamped before our Sent event.
        await stores.DeliveryLog.RecordReceiptAsync(Receipt("m1", DeliveryStatus.Undelivered, s_day.AddSeconds(1), "FAILED.BLOCKED"), Ct);
        var failed = await stores.DeliveryLog.GetAsync("t1", Ct);
        await stores.DeliveryLog.RecordReceiptAsync(Receipt("m1", DeliveryStatus.Delivered, s_day.AddSeconds(40), "DELIVERED"), Ct);
        await stores.DeliveryLog.RecordReceiptAsync(Receipt("m1", DeliveryStatus.Complained, s_day.AddSeconds(20), "spam"), Ct);
        // A worker event after all that (a redelivered task logged as already sent) moves nothing either.
        await stores.DeliveryLog.AppendAsync(Event("t1", DeliveryStatus.Sent, s_day.AddMinutes(5)) with { Attempt = 2, Provider = ProviderNames.BulkSms }, Ct);

        Assert.Equal((DeliveryStatus.Undelivered, "FAILED.BLOCKED"), (failed.Status, failed.LastError));
        var record = await stores.DeliveryLog.GetAsync("t1", Ct);
        Assert.Equal(DeliveryStatus.Complained, record.Status);
        Assert.Equal("spam", record.LastError);
    }

    [Fact]
    public async Task Receipt_FindsItsTaskByTaskId_WhenTheProviderEchoesIt()
    {
        await using var stores = await StartAsync();
        await stores.DeliveryLog.AppendAsync(new DeliveryEvent("t-mail", DeliveryStatus.Sent, s_day, NotificationType.Email, "asha@example.org")
        {
            Provider = ProviderNames.Brevo, ProviderMessageId = "<m1@relay>",
        }, Ct);

        var result = await stores.DeliveryLog.RecordReceiptAsync(new ProviderReceipt(ProviderNames.Brevo, "<m1@relay>:hard_bounce:1", DeliveryStatus.Bounced,
            s_day.AddMinutes(1)) { TaskId = "t-mail", ProviderMessageId = "<m1@relay>", Reason = "hard_bounce: user unknown" }, Ct);

        Assert.Equal(ReceiptOutcome.Recorded, result.Outcome);
        Assert.Equal(("asha@example.org", NotificationType.Email), (result.Task!.Recipient, result.Task.Channel));
        var record = await stores.DeliveryLog.GetAsync("t-mail", Ct);
        Assert.Equal((DeliveryStatus.Bounced, "hard_bounce: user unknown"), (record.Status, record.LastError));
    }

    [Fact]
    public async Task Receipt_ForAMessageNoTaskHas_StoresNothing()
    {
        await using var stores = await StartAsync();
        await SentSmsAsync(stores, "t1", "m1");

        var unknown = await stores.DeliveryLog.RecordReceiptAsync(Receipt("m-other", DeliveryStatus.Delivered, s_day.AddSeconds(30), "DELIVERED"), Ct);
        // Another provider's message with the same id is not ours either.
        var otherProvider = await stores.DeliveryLog.RecordReceiptAsync(
            Receipt("m1", DeliveryStatus.Delivered, s_day.AddSeconds(30), "DELIVERED") with { Provider = ProviderNames.Brevo }, Ct);

        Assert.Equal((ReceiptOutcome.UnknownMessage, null), (unknown.Outcome, unknown.Task));
        Assert.Equal(ReceiptOutcome.UnknownMessage, otherProvider.Outcome);
        var record = await stores.DeliveryLog.GetAsync("t1", Ct);
        Assert.Equal(DeliveryStatus.Sent, record.Status);
        Assert.Equal(2, record.Timeline.Count);
        Assert.Equal(1, (await stores.DeliveryLog.QueryAsync(new DeliveryQuery(), new PageRequest(), Ct)).Total);
    }

    [Fact]
    public async Task Receipt_IsRefused_WithoutAnIdToMatch_OrWithANegativeCost()
    {
        await using var stores = await StartAsync();

        var noId = await Assert.ThrowsAsync<InvalidFieldException>(() => stores.DeliveryLog.RecordReceiptAsync(
            new ProviderReceipt(ProviderNames.BulkSms, "r1", DeliveryStatus.Delivered, s_day), Ct));
        var cost = await Assert.ThrowsAsync<InvalidFieldException>(() => stores.DeliveryLog.RecordReceiptAsync(
            Receipt("m1", DeliveryStatus.Delivered, s_day, "DELIVERED") with { CreditCost = -1 }, Ct));

        Assert.Equal("providerMessageId", noId.Field);
        Assert.Equal("creditCost", cost.Field);
    }

    [Fact]
    public async Task SmsParts_AreCountedWhenQueued_ThenTheProvidersCountAndCostAreKept_PerBatchAndPerDay()
    {
        await using var stores = await StartAsync();
        await SentSmsAsync(stores, "t1", "m1", batchId: "b1");
        await SentSmsAsync(stores, "t2", "m2", batchId: "b1");
        await SentSmsAsync(stores, "t3", "m3", at: s_day.AddDays(1));
        // BulkSMS sent t1 as 2 parts (it chose UCS-2) and charged 1.6 credits.
        await stores.DeliveryLog.RecordReceiptAsync(Receipt("m1", DeliveryStatus.Delivered, s_day.AddMinutes(1), "DELIVERED") with
        {
            SmsParts = 2, CreditCost = 1.6,
        }, Ct);
        // t2 went as UCS-2 (a Telugu name), as BulkSMS reports.
        await stores.DeliveryLog.RecordReceiptAsync(Receipt("m2", DeliveryStatus.Delivered, s_day.AddMinutes(1), "DELIVERED") with
        {
            SmsEncoding = SmsEncoding.Ucs2,
        }, Ct);
        await stores.DeliveryLog.AppendAsync(new DeliveryEvent("t-mail", DeliveryStatus.Queued, s_day, NotificationType.Email, "a@example.org"), Ct);

        var t1 = await stores.DeliveryLog.GetAsync("t1", Ct);
        var batch = await stores.DeliveryLog.GetBatchProgressAsync("b1", Ct);
        var usage = await stores.DeliveryLog.GetSmsUsageAsync(s_midnight, s_midnight.AddDays(3), Ct);

        Assert.Equal((2, 1.6), (t1.SmsParts, t1.CreditCost));
        Assert.Equal(SmsEncoding.Ucs2, (await stores.DeliveryLog.GetAsync("t2", Ct)).SmsEncoding);
        Assert.Equal((3L, 1.6), (batch.SmsParts, batch.CreditCost));
        Assert.Equal(
            [
                new SmsUsageDay(DateOnly.FromDateTime(s_day.UtcDateTime), 2, 3, 1.6) { Ucs2Messages = 1, Ucs2Parts = 1 },
                new SmsUsageDay(DateOnly.FromDateTime(s_day.UtcDateTime).AddDays(1), 1, 1, 0),
            ],
            usage);
        Assert.Empty(await stores.DeliveryLog.GetSmsUsageAsync(s_midnight.AddDays(-5), s_midnight, Ct));
        await Assert.ThrowsAsync<InvalidFieldException>(() => stores.DeliveryLog.GetSmsUsageAsync(s_midnight, s_midnight.AddDays(-1), Ct));
    }

    // Suppressions

    [Fact]
    public async Task Suppression_IsFoundHoweverTheAddressIsWritten_AndKeepsItsFirstReason()
    {
        await using var stores = await StartAsync();

        var added = await stores.Suppressions.AddAsync(new Suppression(NotificationType.Email, " Asha.Rao@Example.ORG ", "Brevo reported hard_bounce", s_day)
        {
            Source = ProviderNames.Brevo, TaskId = "t1",
        }, Ct);
        var again = await stores.Suppressions.AddAsync(new Suppression(NotificationType.Email, "asha.rao@example.org", "Brevo reported spam", s_day.AddHours(1)), Ct);
        var sms = await stores.Suppressions.AddAsync(new Suppression(NotificationType.Sms, "919876543210", "replied \"STOP\"", s_day) { Source = "bulksms" }, Ct);

        Assert.True(added);
        Assert.False(again);
        Assert.True(sms);
        var found = await stores.Suppressions.FindAsync(NotificationType.Email, "ASHA.RAO@example.org", Ct);
        Assert.Equal(new Suppression(NotificationType.Email, "asha.rao@example.org", "Brevo reported hard_bounce", s_day) { Source = "brevo", TaskId = "t1" }, found);
        Assert.Equal("+919876543210", (await stores.Suppressions.FindAsync(NotificationType.Sms, "+919876543210", Ct))?.Address);
        // The same address on the other channel is not suppressed.
        Assert.Null(await stores.Suppressions.FindAsync(NotificationType.Sms, "asha.rao@example.org", Ct));
        var audit = await stores.Suppressions.ListAuditAsync(null, null, new PageRequest(), Ct);
        Assert.Equal(2, audit.Total);
        Assert.Equal(new SuppressionAuditEntry(SuppressionAuditEntry.Added, NotificationType.Email, "asha.rao@example.org", "Brevo reported hard_bounce", "brevo", s_day),
            audit.Items[1]);
    }

    [Fact]
    public async Task Suppressions_AreListedNewestFirst_AndSearchedByPartOfTheAddress_AsText()
    {
        await using var stores = await StartAsync();
        await stores.Suppressions.AddAsync(new Suppression(NotificationType.Email, "a.b@example.org", "hard_bounce", s_day), Ct);
        await stores.Suppressions.AddAsync(new Suppression(NotificationType.Email, "axb@example.org", "hard_bounce", s_day.AddMinutes(1)), Ct);
        await stores.Suppressions.AddAsync(new Suppression(NotificationType.Sms, "+919876543210", "FAILED.BLOCKED", s_day.AddMinutes(2)), Ct);

        var all = await stores.Suppressions.ListAsync(null, new PageRequest(), Ct);
        var dot = await stores.Suppressions.ListAsync("A.B", new PageRequest(), Ct);
        var page = await stores.Suppressions.ListAsync("example", new PageRequest(1, 1), Ct);

        Assert.Equal(["+919876543210", "axb@example.org", "a.b@example.org"], all.Items.Select(s => s.Address));
        // '.' is a character, not "any character".
        Assert.Equal(["a.b@example.org"], dot.Items.Select(s => s.Address));
        Assert.Equal((2L, "a.b@example.org"), (page.Total, page.Items.Single().Address));
        Assert.Equal(["+919876543210"], (await stores.Suppressions.ListAsync("98765", new PageRequest(), Ct)).Items.Select(s => s.Address));
    }

    [Fact]
    public async Task Lift_RemovesTheSuppression_AndAuditsWhoDidIt_ButAnAddressNotListedChangesNothing()
    {
        await using var stores = await StartAsync();
        await stores.Suppressions.AddAsync(new Suppression(NotificationType.Sms, "+919876543210", "BulkSMS reported FAILED.BLOCKED", s_day) { Source = "bulksms" }, Ct);

        var lifted = await stores.Suppressions.LiftAsync(NotificationType.Sms, "919876543210", "staff:ops-1", "number unblocked by the carrier", Ct);
        var missing = await Assert.ThrowsAsync<NotFoundException>(() =>
            stores.Suppressions.LiftAsync(NotificationType.Sms, "+919876543210", "staff:ops-1", null, Ct));

        Assert.Equal("BulkSMS reported FAILED.BLOCKED", lifted.Reason);
        Assert.Equal("suppression", missing.Entity);
        Assert.Null(await stores.Suppressions.FindAsync(NotificationType.Sms, "+919876543210", Ct));
        var audit = await stores.Suppressions.ListAuditAsync(NotificationType.Sms, "+919876543210", new PageRequest(), Ct);
        Assert.Equal([SuppressionAuditEntry.Lifted, SuppressionAuditEntry.Added], audit.Items.Select(e => e.Action));
        Assert.Equal(("staff:ops-1", "number unblocked by the carrier"), (audit.Items[0].Actor, audit.Items[0].Reason));
        Assert.Empty((await stores.Suppressions.ListAuditAsync(NotificationType.Email, null, new PageRequest(), Ct)).Items);
    }

    [Theory]
    [InlineData("", "a reason", "address")]
    [InlineData("   ", "a reason", "address")]
    [InlineData("a@example.org", "", "reason")]
    public async Task Suppression_IsRefused_WhenAFieldIsMissing_AndNothingIsStored(string address, string reason, string field)
    {
        await using var stores = await StartAsync();

        var error = await Assert.ThrowsAsync<InvalidFieldException>(() =>
            stores.Suppressions.AddAsync(new Suppression(NotificationType.Email, address, reason, s_day), Ct));

        Assert.Equal(field, error.Field);
        Assert.Equal(0, (await stores.Suppressions.ListAsync(null, new PageRequest(), Ct)).Total);
        Assert.Equal(0, (await stores.Suppressions.ListAuditAsync(null, null, new PageRequest(), Ct)).Total);
    }
}
