import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models


class Member(AbstractBaseUser):
    uid = models.UUIDField(primary_key=True, default=uuid.uuid4)
    email = models.CharField(max_length=100, unique=True)

    USERNAME_FIELD = "email"
    objects = BaseUserManager()

    class Meta:
        app_label = "sessionctl_members"
        db_table = "member_accounts"
