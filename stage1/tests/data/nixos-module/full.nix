# Option values for the "full" render case: every option away from its
# default.  The expected file is full.conf.
{
  substituters = [
    "s3://my-nix-cache/fleet?region=eu-central-1&endpoint=https://s3.example.net"
    "https://cache.example.org"
  ];
  trustedPublicKeys = [
    "my-cache-1:rYqs8g7W2FzmO6N07LVwSdpHXDOmP0FfIpzXsT0nDlk="
    "my-cache-2:2YvI0tgnF9XhsYqx+Fq3Ksq9D7i0vWYo3S0e6o0QwZ8="
  ];
  allowUserDataSubstituters = true;
  allowUserDataKeys = true;
  imds = {
    endpoint = "http://[fd00:ec2::254]";
    timeout = 12;
    allowV1 = true;
  };
  tagName = null;
  onFailure = "reboot";
  kernelMismatch = "continue";
  keepNetwork = true;
  apply = "when-changed";
  builtinKernel = "/nix/store/0ahcn2x4l5kxxpmhxgyg4gyc8dcfxdc2-linux-6.12.30/bzImage";
  extraSettings = {
    jobs = 4;
    connections = 16;
    interfaces = [
      "ens5"
      "ens6"
    ];
    dhcp-timeout = 10;
    aws-region = "eu-central-1";
  };
}
