namespace ContainerizingDotnet.Lab12;

public static class Greeting
{
    public static string For(string name) => $"Hello, {name}, from a package of the private feed.";
}
