using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;

namespace Web.Dashboard.Tests.Support;

public sealed class FixedEnvironment(string environmentName) : IHostEnvironment
{
    public string EnvironmentName { get; set; } = environmentName;
    public string ApplicationName { get; set; } = "Web.Dashboard";
    public string ContentRootPath { get; set; } = AppContext.BaseDirectory;
    public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
}
